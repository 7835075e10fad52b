"""Tiny ONNX models for the file-safety tests (daemon/tests/testdata/safety/), written with the onnx package.

add-external.onnx computes Y = X + W for X, W of shape [1, 8], with W stored as external data at
"etc_link/passwd": the tests make etc_link a folder link (out of the model's folder, or inside it) and check
that AdvVis reads W only when the resolved file lies inside the model's folder.

Run with Debian's python3 (it has onnx): /usr/bin/python3 daemon/tests/reference/make_safety_models.py
"""
import os
import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "testdata", "safety")
os.makedirs(out, exist_ok=True)

w = TensorProto()
w.name = "W"
w.data_type = TensorProto.FLOAT
w.dims.extend([1, 8])
w.data_location = TensorProto.EXTERNAL
entry = w.external_data.add()
entry.key = "location"
entry.value = "etc_link/passwd"

graph = helper.make_graph(
    [helper.make_node("Add", ["X", "W"], ["Y"], name="add")],
    "add_external",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8])],
    initializer=[w],
)
model = helper.make_model(graph, producer_name="advvis-tests", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
with open(os.path.join(out, "add-external.onnx"), "wb") as f:
    f.write(model.SerializeToString())
