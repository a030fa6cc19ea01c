// Preloaded with `node -r`: the only change to the remove.bg client is where it sends its requests.
// remove.bg@1.3.0 posts to a constant "https://api.remove.bg/v1.0/removebg" through unirest.post.
const unirest = require("unirest");
const post = unirest.post;
unirest.post = (url, ...rest) => post(url.replace("https://api.remove.bg", process.env.REMOVEBG_BASE_URL), ...rest);
