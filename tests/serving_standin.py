"""Loopback stand-ins for TF Serving (no TF Serving binary installs here): its REST predict
and metadata APIs and its gRPC Predict and GetModelMetadata, in front of one SavedModel run
in this process as TF Serving runs it: the MetaGraph loaded into a session with its restore
op (TensorFlow's v1 loader, as TF Serving's C++ one does), and requests fed to the
signature's tensors with no check on the way: JSON numbers converted to the signature's
dtypes, gRPC tensors as sent, any shape."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import http.server
import json
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.python.tools import saved_model_utils


@functools.lru_cache(maxsize=None)
def _session(path: str):
    session = tf.compat.v1.Session(graph=tf.Graph())
    with session.graph.as_default():
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    return session, meta_graph.signature_def


def _run(path: str, signature_name: str, inputs: dict) -> dict:
    session, signatures = _session(path)
    signature = signatures[signature_name]
    if set(inputs) != set(signature.inputs):
        raise ValueError(f"inputs {sorted(inputs)} do not match the signature's {sorted(signature.inputs)}")
    tensor = session.graph.get_tensor_by_name
    outputs = sorted(signature.outputs)
    # Fed as TF Serving's C++ session feeds: below the Python session's shape check.
    feeds = {
        tensor(signature.inputs[k].name)._as_tf_output(): np.asarray(
            v, tf.dtypes.as_dtype(signature.inputs[k].dtype).as_numpy_dtype
        )
        for k, v in inputs.items()
    }
    values = session._call_tf_sessionrun(
        None, feeds, [tensor(signature.outputs[k].name)._as_tf_output() for k in outputs], [], None
    )
    return dict(zip(outputs, values))


def _signature_defs(path: str):
    from tensorflow_serving.apis import get_model_metadata_pb2

    meta_graph = saved_model_utils.get_meta_graph_def(path, "serve")
    return get_model_metadata_pb2.SignatureDefMap(signature_def=meta_graph.signature_def)


@contextlib.contextmanager
def rest(path: str, name: str, port: int = 0):
    """The port of a REST server for model `name`, version 1 or unversioned."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, code: int, payload: dict):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.removesuffix("/metadata") not in (f"/v1/models/{name}", f"/v1/models/{name}/versions/1"):
                return self._reply(404, {"error": f"Servable not found for request: {self.path}"})
            defs = json_format.MessageToDict(_signature_defs(path), preserving_proto_field_name=True)
            self._reply(200, {"model_spec": {"name": name, "version": "1"}, "metadata": {"signature_def": defs}})

        def do_POST(self):
            if self.path.removesuffix(":predict") not in (f"/v1/models/{name}", f"/v1/models/{name}/versions/1"):
                return self._reply(404, {"error": f"Servable not found for request: {self.path}"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                outputs = _run(path, body.get("signature_name", "serving_default"), body["inputs"])
            except (tf.errors.OpError, TypeError, ValueError) as e:
                return self._reply(400, {"error": str(e).splitlines()[0]})
            self._reply(
                200,
                {
                    "outputs": {
                        k: (np.vectorize(bytes.decode)(v).tolist() if v.dtype.kind in "SO" else v.tolist())
                        for k, v in outputs.items()
                    }
                },
            )

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def grpc_server(path: str, name: str, port: int = 0):
    """The port of a gRPC server for model `name`."""
    import grpc
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            if request.model_spec.name != name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            try:
                outputs = _run(path, request.model_spec.signature_name or "serving_default", inputs)
            except (tf.errors.OpError, TypeError, ValueError) as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e).splitlines()[0])
            response = predict_pb2.PredictResponse()
            for k, v in outputs.items():
                response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
            return response

        def GetModelMetadata(self, request, context):
            if request.model_spec.name != name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = name
            response.metadata["signature_def"].Pack(_signature_defs(path))
            return response

    server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield port
    finally:
        server.stop(0)
