// Calls one function of the remove.bg npm client with the options given as JSON on argv[3] and prints
// {"ok": true, "result": {...}} or {"ok": false, "errors": [...]} on stdout.
const removeBg = require("remove.bg");
const [name, json] = process.argv.slice(2);
removeBg[name](JSON.parse(json))
  .then((result) => {
    delete result.base64img; // the test reads outputFile
    console.log(JSON.stringify({ ok: true, result }));
  })
  .catch((errors) => console.log(JSON.stringify({ ok: false, errors })));
