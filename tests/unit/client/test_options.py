"""Output options become the API's form fields; models parse the camelCase bodies."""

from __future__ import annotations

import pytest
from bgremover_client import Batch, Job, OutputOptions, Pricing
from bgremover_client._options import encode_options, merge_options


def test_encoding() -> None:
    assert encode_options() == {}
    assert encode_options(format="WEBP", channels="alpha", crop=True, crop_margin=12.0, size=800, bg_color="fff") == {
        "format": "webp",
        "channels": "alpha",
        "crop": "true",
        "crop_margin": "12",
        "size": "800",
        "bg_color": "#fff",
    }
    assert encode_options(crop=False, crop_margin="5%") == {"crop": "false", "crop_margin": "5%"}
    assert encode_options(crop_margin=2.5) == {"crop_margin": "2.5"}
    with pytest.raises(TypeError):
        encode_options(size=True)


def test_keywords_override_the_options_object() -> None:
    options = OutputOptions(format="jpg", bg_color="#00ff00")
    assert merge_options(options, {"format": "png", "size": None}) == {"format": "png", "bg_color": "#00ff00"}
    assert merge_options(None, {}) == {}


JOB = {
    "id": "8a0c",
    "batchId": None,
    "tier": "basic",
    "status": "completed",
    "pricingType": "credit",
    "originalFilename": "a.jpg",
    "inputWidth": 10,
    "inputHeight": 20,
    "inputBytes": 300,
    "inputFormat": "jpeg",
    "outputOptions": {"format": "png"},
    "creditsCharged": 3,
    "coveredBySubscription": False,
    "errorCode": None,
    "errorMessage": None,
    "attempts": 1,
    "processingMs": 42,
    "progress": 1.0,
    "webhookUrl": None,
    "webhookStatus": None,
    "createdAt": "2025-01-02T03:04:05.123456Z",
    "updatedAt": None,
    "startedAt": None,
    "finishedAt": "2025-01-02T03:04:06Z",
    "links": {"self": "/api/background-remover/jobs/8a0c", "result": "/api/background-remover/jobs/8a0c/result"},
}


def test_job_parsing() -> None:
    job = Job.from_api(JOB, etag='"e1"')
    assert job.is_final and job.succeeded
    assert job.created_at is not None and job.created_at.year == 2025 and job.created_at.tzinfo is not None
    assert job.result_url == "/api/background-remover/jobs/8a0c/result"
    assert job.etag == '"e1"'
    assert job == Job.from_api(JOB)  # the ETag and raw body do not take part in equality


def test_batch_parsing() -> None:
    batch = Batch.from_api(
        {
            "id": "b1",
            "batchId": "b_x",
            "tier": "basic",
            "status": "partial",
            "totalImages": 2,
            "processedImages": 2,
            "failedImages": 1,
            "succeededImages": 1,
            "progress": 1.0,
            "links": {"self": "/s", "download": "/d"},
            "images": [
                {"jobId": "j1", "position": 0, "filename": "a.jpg", "status": "completed", "creditsCharged": 3},
                {"jobId": "j2", "position": 1, "filename": "b.jpg", "status": "failed", "errorCode": "corrupt_image"},
            ],
        }
    )
    assert batch.is_final
    assert [i.filename for i in batch.failed] == ["b.jpg"]
    assert batch.download_url == "/d"
    assert Batch.from_api({"id": "b2", "status": "pending"}).images is None


def test_pricing_estimate_matches_the_server_rounding() -> None:
    pricing = Pricing.from_api(
        {
            "tiers": [{"tier": "basic", "credits": 3, "available": True}],
            "volumeDiscounts": [{"minImages": 20, "maxImages": 49, "percent": 5}],
            "plans": [
                {
                    "plan": "pro",
                    "price": 299000,
                    "currency": "IDR",
                    "credits": 2990,
                    "periodDays": 30,
                    "dailyQuotas": {"basic": 2},
                }
            ],
            "limits": {"batchMaxImages": 500},
        }
    )
    assert pricing.estimate("basic", 25) == 71
    assert pricing.estimate("basic", 3) == 9
    assert pricing.estimate("gold", 3) is None
    assert pricing.plans[0].daily_quotas == {"basic": 2}
    assert (pricing.plans[0].price, pricing.plans[0].credits) == (299000, 2990)
    assert pricing.limits.batch_min_images == 2


def test_remove_bg_options_encode_as_the_api_reads_them() -> None:
    fields = OutputOptions(
        roi="10% 10% 90% 90%",
        scale=80,
        position="50% 100%",
        shadow=True,
        semitransparency=False,
        subject_type="product",
        bg_image_url="https://cdn.example.com/studio.jpg",
        format="zip",
    ).to_fields()
    assert fields == {
        "format": "zip",
        "roi": "10% 10% 90% 90%",
        "scale": "80%",
        "position": "50% 100%",
        "add_shadow": "true",
        "semitransparency": "false",
        "type": "product",
        "bg_image_url": "https://cdn.example.com/studio.jpg",
    }
    assert encode_options(scale="45%") == {"scale": "45%"}
    with pytest.raises(TypeError):
        encode_options(scale=True)


def test_an_image_url_and_a_background_file_make_one_multipart_request() -> None:
    import httpx
    from bgremover_client._core import Endpoints

    call = Endpoints.submit(
        None, tier="basic", options={}, image_url="https://shop.example.com/a.jpg", background=("bg.png", b"png")
    )
    request = call.build(httpx.Client(base_url="http://api"))
    body = request.read().decode("latin-1")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert 'name="image_url"' in body and "https://shop.example.com/a.jpg" in body
    assert 'name="bg_image_file"; filename="bg.png"' in body
    with pytest.raises(ValueError, match="one image"):
        Endpoints.submit(("a.jpg", b"x"), tier="basic", options={}, image_url="https://shop.example.com/a.jpg")
