"""Running an exported model: locally from its SavedModel, or on TF Serving over REST or gRPC.

Both take the same inputs (`faces` uint8 [batch, frames, H, W, 3] and/or `waveform` float32
[batch, samples]) and return {'probabilities', 'labels'} as NumPy arrays. Requests are
checked against the exported signature before they leave, so a wrong shape gets an error
that says the expected one.

    docker run -p 8500:8500 -p 8501:8501 -v $PWD/saved_models:/models \\
      tensorflow/serving --model_config_file=/models/models.config
"""
from __future__ import annotations

import json
import os
import urllib.request

import numpy as np
import tensorflow as tf

SIGNATURE = "serving_default"
SPEAKER_FEATURES = "speaker_features"  # speaker-normalised exports: the enrolment signature


def _input_signature(function) -> dict:
    _, specs = function.structured_input_signature
    return {name: (tuple(spec.shape.as_list()), spec.dtype.as_numpy_dtype) for name, spec in specs.items()}


def read_signature(saved_model: str) -> dict:
    """{input name: (shape with None for free dimensions, numpy dtype)} of serving_default."""
    return _input_signature(tf.saved_model.load(saved_model).signatures[SIGNATURE])


def check_inputs(inputs: dict, signature: dict) -> dict:
    """Casts inputs to the signature's dtypes; raises ValueError naming what was expected."""
    missing, extra = set(signature) - set(inputs), set(inputs) - set(signature)
    if missing or extra:
        expected = ", ".join(f"{n} {list(s)} {np.dtype(d).name}" for n, (s, d) in sorted(signature.items()))
        raise ValueError(f"the model takes {expected}; missing {sorted(missing)}, unexpected {sorted(extra)}")
    checked = {}
    for name, (shape, dtype) in signature.items():
        value = np.asarray(inputs[name])
        if value.ndim != len(shape) or any(e is not None and e != v for e, v in zip(shape, value.shape)):
            raise ValueError(f"{name}: expected shape {['batch' if e is None else e for e in shape]} "
                             f"({np.dtype(dtype).name}), got {list(value.shape)}")
        checked[name] = value.astype(dtype, copy=False)
    return checked


class LocalModel:
    """A SavedModel run in this process."""

    def __init__(self, path: str):
        if not tf.saved_model.contains_saved_model(path):
            raise FileNotFoundError(f"no SavedModel in {path!r} (expected saved_models/<name>/<version>/)")
        self.path = path
        signatures = tf.saved_model.load(path).signatures
        self._function = signatures[SIGNATURE]
        self.signature = _input_signature(self._function)
        self._speaker_features = signatures.get(SPEAKER_FEATURES)
        # Samples per enrolment window; None: whole recordings.
        self.speaker_window_samples = (_input_signature(self._speaker_features)["waveform"][0][1]
                                       if self._speaker_features is not None else None)
        info = os.path.join(path, "emorec.json")
        self.info = json.load(open(info)) if os.path.exists(info) else {}

    def predict(self, inputs: dict) -> dict:
        outputs = self._function(**{k: tf.constant(v) for k, v in check_inputs(inputs, self.signature).items()})
        return {k: v.numpy() for k, v in outputs.items()}

    def speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        """[batch, samples] -> the features of `emorec.inference.enrol` (speaker-normalised models)."""
        if self._speaker_features is None:
            raise ValueError(f"{self.path} exports no {SPEAKER_FEATURES} signature: export it again with this version")
        return self._speaker_features(waveform=tf.constant(waveform, tf.float32))["features"].numpy()


class ServingClient:
    """TF Serving's predict API for one model, over REST (port 8501) or gRPC (port 8500).

    `signature` is the exported input signature (`read_signature` of the same SavedModel, or
    the metadata TF Serving returns); requests are checked against it before sending.
    """

    def __init__(self, model: str, signature: dict, host: str = "localhost", rest_port: int = 8501,
                 grpc_port: int = 8500, version: int | None = None, protocol: str = "rest", timeout: float = 30.0,
                 speaker_window_samples: int | None = None):
        if protocol not in ("rest", "grpc"):
            raise ValueError(f"protocol must be 'rest' or 'grpc', got {protocol!r}")
        self.model, self.signature, self.host, self.version = model, signature, host, version
        self.speaker_window_samples = speaker_window_samples
        self.rest_port, self.grpc_port, self.protocol, self.timeout = rest_port, grpc_port, protocol, timeout

    @classmethod
    def from_server(cls, model: str, host: str = "localhost", rest_port: int = 8501, **kwargs) -> "ServingClient":
        """A client whose signature is read from TF Serving's model metadata (REST)."""
        url = f"http://{host}:{rest_port}/v1/models/{model}/metadata"
        with urllib.request.urlopen(url, timeout=kwargs.get("timeout", 30.0)) as response:
            metadata = json.loads(response.read())
        signatures = metadata["metadata"]["signature_def"]["signature_def"]

        def parse(inputs):
            return {name: (tuple(None if int(d["size"]) < 0 else int(d["size"]) for d in spec["tensor_shape"]["dim"]),
                           tf.dtypes.as_dtype(spec["dtype"].lower().replace("dt_", "")).as_numpy_dtype)
                    for name, spec in inputs.items()}
        if SPEAKER_FEATURES in signatures:
            kwargs.setdefault("speaker_window_samples", parse(signatures[SPEAKER_FEATURES]["inputs"])["waveform"][0][1])
        return cls(model, parse(signatures[SIGNATURE]["inputs"]), host=host, rest_port=rest_port, **kwargs)

    def rest_url(self) -> str:
        version = f"/versions/{self.version}" if self.version else ""
        return f"http://{self.host}:{self.rest_port}/v1/models/{self.model}{version}:predict"

    def _checked(self, inputs: dict, signature_name: str) -> dict:
        if signature_name == SIGNATURE:
            return check_inputs(inputs, self.signature)
        return check_inputs(inputs, {"waveform": ((None, self.speaker_window_samples), np.float32)})

    def rest_body(self, inputs: dict, signature_name: str = SIGNATURE) -> dict:
        """The JSON body, columnar ('inputs') format."""
        checked = self._checked(inputs, signature_name)
        return {"signature_name": signature_name, "inputs": {k: v.tolist() for k, v in checked.items()}}

    def grpc_request(self, inputs: dict, signature_name: str = SIGNATURE):
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        request.model_spec.signature_name = signature_name
        if self.version:
            request.model_spec.version.value = self.version
        for name, value in self._checked(inputs, signature_name).items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        return request

    def speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        """[batch, samples] -> the features of `emorec.inference.enrol`, from the served
        model's `speaker_features` signature."""
        return np.asarray(self.predict({"waveform": waveform}, SPEAKER_FEATURES)["features"])

    def predict(self, inputs: dict, signature_name: str = SIGNATURE) -> dict:
        if self.protocol == "grpc":
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            with grpc.insecure_channel(f"{self.host}:{self.grpc_port}") as channel:
                stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
                response = stub.Predict(self.grpc_request(inputs, signature_name), timeout=self.timeout)
            return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
        request = urllib.request.Request(self.rest_url(), data=json.dumps(self.rest_body(inputs, signature_name)).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            outputs = json.loads(response.read())["outputs"]
        return {k: np.asarray(v) for k, v in outputs.items()}
