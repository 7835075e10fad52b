#!/usr/bin/python3
# Tiny ONNX "memory bombs" for the memory-budget tests (issue 12): each file is a few hundred bytes but asks the
# engine for gigabytes, once during constant folding at load and once from a graph input at run time.
# Run with Debian's python3-onnx, offline:  /usr/bin/python3 daemon/tests/reference/make_memory_bombs.py
import os
import onnx
from onnx import TensorProto, helper

out = os.path.join(os.path.dirname(__file__), "..", "testdata", "bombs")
os.makedirs(out, exist_ok=True)


def shape_constant(name, dims):
    return helper.make_node("Constant", [], [name], name=name,
                            value=helper.make_tensor(name + "_value", TensorProto.INT64, [len(dims)], dims))


# ConstantOfShape([46000, 46000]): all constant, so folded at load: 46000² float32 = 7.88 GiB.
fold = helper.make_graph(
    [shape_constant("shape", [46000, 46000]), helper.make_node("ConstantOfShape", ["shape"], ["y"], name="bomb")],
    "fold_bomb", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [46000, 46000])])
onnx.save(helper.make_model(fold, opset_imports=[helper.make_opsetid("", 13)], producer_name="advvis-tests"),
          os.path.join(out, "constant_of_shape_46000.onnx"))

# Expand(x, [1, 1, 40000, 40000]) on a [1, 1, 1, 1] input: runs when shapes are inferred (model/graph): 5.96 GiB.
expand = helper.make_graph(
    [shape_constant("shape", [1, 1, 40000, 40000]), helper.make_node("Expand", ["x", "shape"], ["y"], name="bomb")],
    "expand_bomb", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 40000, 40000])])
onnx.save(helper.make_model(expand, opset_imports=[helper.make_opsetid("", 13)], producer_name="advvis-tests"),
          os.path.join(out, "expand_40000.onnx"))

for name in sorted(os.listdir(out)):
    onnx.checker.check_model(os.path.join(out, name))
    print(name, os.path.getsize(os.path.join(out, name)), "bytes")
