"""Running an exported model: locally from its SavedModel, or on TF Serving over REST or gRPC.

Both take the same inputs (`faces` uint8 [batch, frames, H, W, 3] and/or `waveform` float32
[batch, samples]) and return {'probabilities', 'labels', 'class_names'} as NumPy arrays.
Requests are checked against the exported signature before they leave (`check_inputs`), so
a wrong shape, dtype or value gets one line that says what was expected.

    docker run -p 8500:8500 -p 8501:8501 -v $PWD/saved_models:/models \\
      tensorflow/serving --model_config_file=/models/models.config
"""

from __future__ import annotations

import http.client
import importlib
import json
import urllib.error
import urllib.request

import numpy as np
import tensorflow as tf

from emorec.checks import first_line
from emorec.clients import Client
from emorec.errors import UserError
from emorec.signatures import SIGNATURE, SPEAKER_FEATURES, InputSpec


def input_specs(specs: dict) -> dict[str, InputSpec]:
    """TensorFlow's {name: tf.TensorSpec} as {name: InputSpec}."""
    return {
        name: InputSpec(tuple(spec.shape.as_list()), np.dtype(spec.dtype.as_numpy_dtype))
        for name, spec in specs.items()
    }


def _input_signature(function) -> dict[str, InputSpec]:
    return input_specs(function.structured_input_signature[1])


def read_signature(saved_model: str) -> dict[str, InputSpec]:
    """{input name: InputSpec} of serving_default."""
    return _input_signature(tf.saved_model.load(saved_model).signatures[SIGNATURE])


class LocalModel(Client):
    """A SavedModel run in this process."""

    def __init__(self, path: str):
        if not tf.saved_model.contains_saved_model(path):
            raise UserError(f"no SavedModel in {path!r} (expected saved_models/<name>/<version>/)")
        self.path = path
        try:
            signatures = tf.saved_model.load(path).signatures
        except (tf.errors.OpError, ValueError, IndexError, OSError) as e:
            raise UserError(
                f"{path}: the SavedModel cannot be loaded ({first_line(e)}): its variables/ folder "
                "is missing or damaged; copy or export it again"
            ) from None
        self._function = signatures[SIGNATURE]
        self.signature = _input_signature(self._function)
        self._features = signatures.get(SPEAKER_FEATURES)
        self.has_speaker_features = self._features is not None
        if self.has_speaker_features:
            self.speaker_window_samples = _input_signature(self._features)["waveform"].shape[1]

    def describe(self) -> str:
        return self.path

    def _predict(self, inputs: dict) -> dict:
        return {k: v.numpy() for k, v in self._function(**{k: tf.constant(v) for k, v in inputs.items()}).items()}

    def _speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        return self._features(waveform=tf.constant(waveform))["features"].numpy()


class KerasModel(Client):
    """A Keras model run in this process through the export's own serving function
    (`emorec.export.ServingModule`): what emorec-predict runs for a preset, with the outputs
    and the checks its SavedModel has, and no export first."""

    def __init__(self, model, class_names, face_pipeline: dict | None = None, name: str | None = None):
        from emorec import export

        self.name = name or model.name
        self.module = export.ServingModule(
            model, class_names, face_pipeline if "faces" in {t.name for t in model.inputs} else None
        )
        specs = export.signature_specs(model)
        self.signature = input_specs(specs)
        self._function = tf.function(self.module.__call__, input_signature=[specs])
        self.has_speaker_features = self.module.speaker_features is not None
        if self.has_speaker_features:
            self.speaker_window_samples = self.module.speaker_features.inputs[0].shape[1]

    def describe(self) -> str:
        return self.name

    def _predict(self, inputs: dict) -> dict:
        return {k: v.numpy() for k, v in self._function({k: tf.constant(v) for k, v in inputs.items()}).items()}

    def _speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        return self.module.speaker_features(tf.constant(waveform), training=False)


SERVING_APIS_INSTALL = "pip install --no-deps tensorflow-serving-api==2.21.0"


def _serving_apis(*modules: str) -> list:
    """TF Serving's gRPC protos, which ship in tensorflow-serving-api (installed without its
    declared dependencies: it asks for the full `tensorflow` wheel beside tensorflow-cpu)."""
    try:
        return [importlib.import_module(f"tensorflow_serving.apis.{m}") for m in modules]
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"TF Serving over gRPC needs its protos: {SERVING_APIS_INSTALL} (or use REST: --protocol rest)"
        ) from None


class ServingClient(Client):
    """TF Serving's predict API for one model, over REST (port 8501) or gRPC (port 8500).

    `signature` is the exported input signature (`read_signature` of the same SavedModel, or
    the metadata TF Serving returns); requests are checked against it before sending.
    """

    def __init__(
        self,
        model: str,
        signature: dict[str, InputSpec],
        host: str = "localhost",
        rest_port: int = 8501,
        grpc_port: int = 8500,
        version: int | None = None,
        protocol: str = "rest",
        timeout: float = 30.0,
        speaker_window_samples: int | None = None,
    ):
        if protocol not in ("rest", "grpc"):
            raise ValueError(f"protocol must be 'rest' or 'grpc', got {protocol!r}")
        self.model, self.signature, self.host, self.version = model, signature, host, version
        self.speaker_window_samples = speaker_window_samples
        self.has_speaker_features = speaker_window_samples is not None
        self.rest_port, self.grpc_port, self.protocol, self.timeout = rest_port, grpc_port, protocol, timeout

    @classmethod
    def from_server(
        cls,
        model: str,
        host: str = "localhost",
        rest_port: int = 8501,
        grpc_port: int = 8500,
        protocol: str = "rest",
        **kwargs,
    ) -> "ServingClient":
        """A client whose signatures are read from TF Serving's model metadata, over the
        protocol it will predict with."""
        client = cls(model, {}, host=host, rest_port=rest_port, grpc_port=grpc_port, protocol=protocol, **kwargs)
        signatures = client._metadata()
        if SIGNATURE not in signatures:
            raise UserError(f"{client.describe()} has no {SIGNATURE} signature (it has {sorted(signatures)})")
        client.signature = signatures[SIGNATURE]
        if SPEAKER_FEATURES in signatures:
            client.has_speaker_features = True
            client.speaker_window_samples = signatures[SPEAKER_FEATURES]["waveform"].shape[1]
        return client

    def describe(self) -> str:
        port = self.grpc_port if self.protocol == "grpc" else self.rest_port
        return f"TF Serving model {self.model!r} at {self.host}:{port} ({self.protocol})"

    def _metadata(self) -> dict:
        """{signature name: {input: InputSpec}}."""
        if self.protocol == "grpc":
            get_model_metadata_pb2, model_pb2 = _serving_apis("get_model_metadata_pb2", "model_pb2")
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=model_pb2.ModelSpec(name=self.model), metadata_field=["signature_def"]
            )
            if self.version:
                request.model_spec.version.value = self.version
            response = self._grpc(lambda stub: stub.GetModelMetadata(request, timeout=self.timeout))
            defs = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(defs)
            return {
                name: {
                    key: InputSpec(
                        tuple(None if d.size < 0 else d.size for d in info.tensor_shape.dim),
                        np.dtype(tf.dtypes.as_dtype(info.dtype).as_numpy_dtype),
                    )
                    for key, info in sig.inputs.items()
                }
                for name, sig in defs.signature_def.items()
            }
        metadata = self._rest(f"{self._model_url()}/metadata")

        def spec(info) -> InputSpec:
            dtype = tf.dtypes.as_dtype(info["dtype"].lower().replace("dt_", "")).as_numpy_dtype
            return InputSpec(
                tuple(None if int(d["size"]) < 0 else int(d["size"]) for d in info["tensor_shape"]["dim"]),
                np.dtype(dtype),
            )

        return {
            name: {key: spec(info) for key, info in sig.get("inputs", {}).items()}
            for name, sig in metadata["metadata"]["signature_def"]["signature_def"].items()
        }

    def _rest(self, url: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            url, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise UserError(
                f"{self.describe()} refused the request: {e.code} {e.read().decode(errors='replace')[:300]}"
            ) from None
        except (http.client.HTTPException, json.JSONDecodeError):  # an HTTP/2 (gRPC) server, or not TF Serving
            raise UserError(
                f"{self.describe()} answers, but not as TF Serving's REST API: is that its gRPC "
                f"port? (TF Serving listens for REST on 8501 and gRPC on 8500; --protocol grpc "
                f"--grpc_port {self.rest_port} for gRPC there)"
            ) from None
        except (urllib.error.URLError, OSError) as e:
            raise UserError(
                f"{self.describe()} does not answer ({getattr(e, 'reason', e)}): is TF Serving "
                "running there, with that port?"
            ) from None

    def _grpc(self, call):
        import grpc

        (prediction_service_pb2_grpc,) = _serving_apis("prediction_service_pb2_grpc")
        try:
            with grpc.insecure_channel(f"{self.host}:{self.grpc_port}") as channel:
                return call(prediction_service_pb2_grpc.PredictionServiceStub(channel))
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise UserError(
                    f"{self.describe()} does not answer ({e.code().name}): is TF Serving running there, with that port?"
                ) from None
            raise UserError(f"{self.describe()} refused the request: {e.code().name} {e.details()}") from None

    def _model_url(self) -> str:
        version = f"/versions/{self.version}" if self.version else ""
        return f"http://{self.host}:{self.rest_port}/v1/models/{self.model}{version}"

    def rest_url(self) -> str:
        return f"{self._model_url()}:predict"

    def rest_body(self, inputs: dict, signature_name: str = SIGNATURE) -> dict:
        """The JSON body of checked inputs, columnar ('inputs') format."""
        return {"signature_name": signature_name, "inputs": {k: v.tolist() for k, v in inputs.items()}}

    def grpc_request(self, inputs: dict, signature_name: str = SIGNATURE):
        """The PredictRequest of checked inputs."""
        (predict_pb2,) = _serving_apis("predict_pb2")
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        request.model_spec.signature_name = signature_name
        if self.version:
            request.model_spec.version.value = self.version
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        return request

    def _speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        return np.asarray(self._call({"waveform": waveform}, SPEAKER_FEATURES)["features"])

    def _predict(self, inputs: dict) -> dict:
        return self._call(inputs, SIGNATURE)

    def _call(self, inputs: dict, signature_name: str) -> dict:
        if self.protocol == "grpc":
            request = self.grpc_request(inputs, signature_name)
            response = self._grpc(lambda stub: stub.Predict(request, timeout=self.timeout))
            return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
        outputs = self._rest(self.rest_url(), self.rest_body(inputs, signature_name))["outputs"]
        return {k: np.asarray(v) for k, v in outputs.items()}
