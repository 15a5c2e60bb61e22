"""Open Inference Protocol (KServe V2): JSON and Triton binary tensors, and tritonclient."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from model_builders import CATEGORICAL, CLASSES, NUMERIC, expected_classifier

INFER = "/v2/models/penguins-test/infer"


def tensor(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data), 1], "data": data}


def infer_json(client, inputs, **extra):
    return client.post(INFER, json={"inputs": inputs, **extra})


def outputs_by_name(body):
    return {o["name"]: o for o in body["outputs"]}


def test_server_and_model_metadata(client):
    assert client.get("/v2").get_json()["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    model = client.get("/v2/models/penguins-test").get_json()
    assert model["versions"] == ["3"]
    assert model["inputs"] == [
        {"name": NUMERIC, "datatype": "FP64", "shape": [-1, 1]},
        {"name": CATEGORICAL, "datatype": "BYTES", "shape": [-1, 1]},
    ]
    assert client.get("/v2/models/penguins-test/versions/3").status_code == 200
    assert client.get("/v2/models/penguins-test/ready").status_code == 200
    assert client.get("/v2/models/penguins-test/versions/3/ready").status_code == 200


def test_json_infer_with_missing_values_as_nan_null_and_empty_string(client):
    response = infer_json(
        client,
        [
            tensor(NUMERIC, "FP64", [40.0, None, "NaN", 50]),
            tensor(CATEGORICAL, "BYTES", ["Dream", "", None, "Biscoe"]),
        ],
        id="req-1",
    )
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert body["id"] == "req-1"
    assert body["model_name"] == "penguins-test"
    out = outputs_by_name(body)
    expected = [
        expected_classifier(x, i, CLASSES)
        for x, i in [(40.0, "Dream"), (None, None), (None, None), (50.0, "Biscoe")]
    ]
    assert out["label"]["data"] == [e["label"] for e in expected]
    assert out["probabilities"]["shape"] == [4, 3]
    flat = [p for e in expected for p in e["probabilities"].values()]
    assert out["probabilities"]["data"] == pytest.approx(flat, abs=1e-12)


def test_bare_nan_token_means_missing_but_infinity_is_an_error(client):
    body = json.dumps(
        {"inputs": [tensor(NUMERIC, "FP64", [1.0]), tensor(CATEGORICAL, "BYTES", ["Dream"])]}
    )
    ok = client.post(INFER, data=body.replace("1.0", "NaN"), content_type="application/json")
    assert ok.status_code == 200
    answers = set()
    for token in ("Infinity", "-Infinity", '"Infinity"', "1e999", "-1e999", "1" + "0" * 400):
        response = client.post(
            INFER, data=body.replace("1.0", token), content_type="application/json"
        )
        error = response.get_json()
        assert isinstance(error["error"], str)  # OIP error shape
        assert error["details"] == [
            {"row": 0, "field": NUMERIC, "problem": "number is not finite (±Infinity)"}
        ], token
        answers.add((response.status_code, error["code"]))
    # One rule (the raw-row contract's), one answer, however the infinity is spelt.
    assert answers == {(422, "invalid_rows")}


def test_an_infinite_binary_fp64_element_gets_the_same_answer_as_json(client):
    numeric = np.array([np.inf], dtype="<f8").tobytes()
    strings = struct.pack("<I", 5) + b"Dream"
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": NUMERIC,
                    "datatype": "FP64",
                    "shape": [1, 1],
                    "parameters": {"binary_data_size": len(numeric)},
                },
                {
                    "name": CATEGORICAL,
                    "datatype": "BYTES",
                    "shape": [1, 1],
                    "parameters": {"binary_data_size": len(strings)},
                },
            ]
        }
    ).encode()
    response = client.post(
        INFER,
        data=header + numeric + strings,
        headers={
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(header)),
        },
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_rows"


def test_binary_inputs_and_outputs(client):
    numeric = np.array([40.0, np.nan], dtype="<f8").tobytes()
    strings = b"".join(struct.pack("<I", len(s)) + s for s in (b"Dream", b""))
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": NUMERIC,
                    "datatype": "FP64",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(numeric)},
                },
                {
                    "name": CATEGORICAL,
                    "datatype": "BYTES",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(strings)},
                },
            ],
            "outputs": [
                {"name": "label", "parameters": {"binary_data": True}},
                {"name": "probabilities", "parameters": {"binary_data": True}},
            ],
        }
    ).encode()
    response = client.post(
        INFER,
        data=header + numeric + strings,
        headers={"Inference-Header-Content-Length": str(len(header))},
        content_type="application/octet-stream",
    )
    assert response.status_code == 200, response.data
    length = int(response.headers["Inference-Header-Content-Length"])
    meta = json.loads(response.data[:length])
    blob = response.data[length:]
    label, probs = meta["outputs"]
    n = label["parameters"]["binary_data_size"]
    labels, pos = [], 0
    while pos < n:
        (size,) = struct.unpack_from("<I", blob, pos)
        labels.append(blob[pos + 4 : pos + 4 + size].decode())
        pos += 4 + size
    assert labels == ["Adelie", "Gentoo"]
    values = np.frombuffer(blob[n:], dtype="<f8").reshape(2, 3)
    assert values.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_binary_output_for_all_via_request_parameter(client):
    response = infer_json(
        client,
        [tensor(NUMERIC, "FP64", [40.0]), tensor(CATEGORICAL, "BYTES", ["Dream"])],
        parameters={"binary_data_output": True},
    )
    assert response.status_code == 200
    assert "Inference-Header-Content-Length" in response.headers


@pytest.mark.parametrize(
    "inputs, field",
    [
        ([tensor(NUMERIC, "FP32", [1.0]), tensor(CATEGORICAL, "BYTES", ["a"])], NUMERIC),
        ([tensor(NUMERIC, "FP64", [1.0])], CATEGORICAL),
        (
            [
                tensor(NUMERIC, "FP64", [1.0]),
                tensor(CATEGORICAL, "BYTES", ["a"]),
                tensor("sex", "BYTES", ["MALE"]),
            ],
            "sex",
        ),
        (
            [tensor(NUMERIC, "FP64", [1.0], shape=[1, 2]), tensor(CATEGORICAL, "BYTES", ["a"])],
            NUMERIC,
        ),
        (
            [
                tensor(NUMERIC, "FP64", [1.0, 2.0]),
                tensor(CATEGORICAL, "BYTES", ["a"], shape=[2, 1]),
            ],
            CATEGORICAL,
        ),
        ([tensor(NUMERIC, "FP64", ["x"]), tensor(CATEGORICAL, "BYTES", ["a"])], NUMERIC),
        ([tensor(NUMERIC, "FP64", [1.0]), tensor(CATEGORICAL, "BYTES", [3])], CATEGORICAL),
    ],
)
def test_bad_tensors_are_named(client, inputs, field):
    response = infer_json(client, inputs)
    assert response.status_code in (400, 422)
    body = response.get_json()
    assert isinstance(body["error"], str)
    assert field in {d["field"] for d in body["details"]}


def test_bad_binary_sizes_are_4xx(client):
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": NUMERIC,
                    "datatype": "FP64",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": 8},
                },
                {"name": CATEGORICAL, "datatype": "BYTES", "shape": [2, 1], "data": ["a", "b"]},
            ]
        }
    ).encode()
    for length in ("abc", "0", str(len(header) + 100)):
        response = client.post(
            INFER, data=header + b"\0" * 8, headers={"Inference-Header-Content-Length": length}
        )
        assert response.status_code == 400, length
    response = client.post(
        INFER,
        data=header + b"\0" * 8,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 400
    assert "16 bytes" in response.get_json()["error"]


def test_unknown_model_name_and_version_are_404(client):
    for path in (
        "/v2/models/other",
        "/v2/models/other/ready",
        "/v2/models/penguins-test/versions/9",
        "/v2/models/penguins-test/versions/9/ready",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["code"] in ("model_not_found", "model_version_not_found")
    response = client.post("/v2/models/other/infer", json={"inputs": []})
    assert response.status_code == 404


def test_unknown_requested_output_and_compressed_body_are_rejected(client):
    inputs = [tensor(NUMERIC, "FP64", [1.0]), tensor(CATEGORICAL, "BYTES", ["a"])]
    assert infer_json(client, inputs, outputs=[{"name": "nope"}]).status_code == 400
    response = client.post(INFER, json={"inputs": inputs}, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 415


@pytest.fixture(scope="module")
def triton(classifier_server):
    import tritonclient.http as triton_http

    return triton_http, triton_http.InferenceServerClient(
        classifier_server.url.removeprefix("http://")
    )


class TestTritonClient:
    """NVIDIA's tritonclient against a real `pipeport serve`."""

    def inputs(self, triton_http, binary):
        numeric = triton_http.InferInput(NUMERIC, [3, 1], "FP64")
        numeric.set_data_from_numpy(np.array([[40.0], [np.nan], [50.0]]), binary_data=binary)
        island = triton_http.InferInput(CATEGORICAL, [3, 1], "BYTES")
        island.set_data_from_numpy(
            np.array([["Dream"], [""], ["Biscoe"]], dtype=object), binary_data=binary
        )
        return [numeric, island]

    def expected(self):
        return [
            expected_classifier(x, i, CLASSES)
            for x, i in [(40.0, "Dream"), (None, None), (50.0, "Biscoe")]
        ]

    def test_health_and_metadata(self, triton):
        _, client = triton
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("penguins-test")
        assert client.get_model_metadata("penguins-test")["versions"] == ["3"]

    @pytest.mark.parametrize("binary_in", [True, False])
    @pytest.mark.parametrize("binary_out", [True, False])
    def test_infer(self, triton, binary_in, binary_out):
        triton_http, client = triton
        outputs = [
            triton_http.InferRequestedOutput(name, binary_data=binary_out)
            for name in ("label", "probabilities")
        ]
        result = client.infer(
            "penguins-test", self.inputs(triton_http, binary_in), outputs=outputs, model_version="3"
        )
        labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
        expected = self.expected()
        assert labels == [e["label"] for e in expected]
        probabilities = result.as_numpy("probabilities")
        assert probabilities.shape == (3, 3)
        for row, e in zip(probabilities, expected, strict=True):
            assert row.tolist() == pytest.approx(list(e["probabilities"].values()), abs=1e-12)

    def test_default_request_gets_binary_outputs(self, triton):
        triton_http, client = triton
        result = client.infer("penguins-test", self.inputs(triton_http, True))
        assert result.as_numpy("label").tolist() == [b"Adelie", b"Gentoo", b"Adelie"]

    def test_errors_surface_as_inference_server_exceptions(self, triton):
        from tritonclient.utils import InferenceServerException

        triton_http, client = triton
        with pytest.raises(InferenceServerException) as caught:
            client.infer("no-such-model", self.inputs(triton_http, True))
        assert "no-such-model" in str(caught.value)
        assert caught.value.status() == "404"
