#!/usr/bin/python3
# make_fixtures.py — writes the tiny ONNX models that tests/unit/test_onnx_import.c
# imports. Run from anywhere with the system python (onnx 1.12, numpy):
#   /usr/bin/python3 tests/unit/data/onnx/make_fixtures.py
# Every file is a few hundred bytes; the test states what each one checks.
import os

import numpy as np
from onnx import AttributeProto, TensorProto, helper, numpy_helper, save

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


def write(name, graph, opsets=(("", 13),), functions=()):
    model = helper.make_model(
        graph,
        producer_name="kiln-fixtures",
        producer_version="1.0",
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
        functions=list(functions),
    )
    save(model, os.path.join(HERE, name))


def basic():
    # Nodes are deliberately out of order: Add consumes MatMul's output first.
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), "W")  # raw_data
    b = helper.make_tensor("B", F, [2], [0.5, -1.5], raw=False)  # float_data
    shape = helper.make_tensor("S", TensorProto.INT64, [2], [-1, 1], raw=False)  # int64_data
    i8 = helper.make_tensor("I8", TensorProto.INT8, [3], [-1, 2, -128], raw=False)  # int32_data
    h = helper.make_tensor("H", TensorProto.FLOAT16, [2], [1.0, -2.0], raw=False)  # int32_data bits
    value = helper.make_tensor("v", F, [2, 2], [1, 2, 3, 4], raw=False)
    nodes = [
        helper.make_node("Add", ["t", "B"], ["y"], name="add1"),
        helper.make_node("MatMul", ["X", "W"], ["t"], name="mm1"),
        helper.make_node("Reshape", ["y", "S"], ["z"], name="reshape1"),
        helper.make_node("Identity", ["Q"], ["q"], name="attrs",
                         i=7, f=0.25, s="hello", ints=[1, -2, 3], floats=[0.5, 1.5],
                         strings=["a", "bc"], t=value),
        helper.make_node("Identity", ["I8"], ["i8out"]),  # no name: one is made up
    ]
    legacy = helper.make_attribute("legacy", 5)  # old models leave `type` unset
    legacy.ClearField("type")
    nodes[3].attribute.append(legacy)
    inputs = [
        helper.make_tensor_value_info("X", F, ["N", 3]),
        helper.make_tensor_value_info("Q", TensorProto.INT64, [None, 4]),
        helper.make_tensor_value_info("W", F, [3, 2]),  # an initializer listed as input
    ]
    outputs = [helper.make_tensor_value_info("z", F, None),
               helper.make_tensor_value_info("q", TensorProto.INT64, None)]
    write("basic.onnx", helper.make_graph(nodes, "basic", inputs, outputs, [w, b, shape, i8, h]))


def external():
    # W's data lives in weights.bin at offset 8 (after 8 bytes of padding).
    data = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    with open(os.path.join(HERE, "weights.bin"), "wb") as f:
        f.write(b"\0" * 8 + data.tobytes())

    def ext_model(name, location, offset="8", length="16"):
        w = TensorProto(name="W", data_type=F, dims=[2, 2])
        w.data_location = TensorProto.EXTERNAL
        for key, val in (("location", location), ("offset", offset), ("length", length)):
            if val is not None:
                entry = w.external_data.add()
                entry.key, entry.value = key, val
        nodes = [helper.make_node("Add", ["X", "W"], ["Y"], name="add")]
        write(name, helper.make_graph(nodes, "ext", [helper.make_tensor_value_info("X", F, [2, 2])],
                                      [helper.make_tensor_value_info("Y", F, [2, 2])], [w]))

    ext_model("external.onnx", "weights.bin")
    ext_model("external_dotdot.onnx", "../onnx/weights.bin")
    ext_model("external_abs.onnx", "/etc/passwd")
    ext_model("external_missing.onnx", "no_such_weights.bin")
    ext_model("external_short.onnx", "weights.bin", offset="16")


def errors():
    x = helper.make_tensor_value_info("X", F, [2])
    y = helper.make_tensor_value_info("Y", F, [2])
    # StringNormalizer works on strings: kiln will never support it.
    write("unknown_op.onnx", helper.make_graph(
        [helper.make_node("StringNormalizer", ["X"], ["Y"], name="norm1")], "g", [x], [y]))
    write("unknown_domain.onnx", helper.make_graph(
        [helper.make_node("TreeEnsembleClassifier", ["X"], ["Y"], name="trees",
                          domain="ai.onnx.ml")], "g", [x], [y]),
        opsets=(("", 13), ("ai.onnx.ml", 3)))
    write("undefined_input.onnx", helper.make_graph(
        [helper.make_node("Relu", ["nope"], ["Y"], name="relu1")], "g", [x], [y]))
    write("produced_twice.onnx", helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"], name="r1"),
         helper.make_node("Sigmoid", ["X"], ["Y"], name="r2")], "g", [x], [y]))
    write("opset19.onnx", helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"], name="r1")], "g", [x], [y]), opsets=(("", 19),))
    then = helper.make_graph([], "then", [], [])
    write("graph_attr.onnx", helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"], name="id1", then_branch=then)], "g", [x], [y]))
    seq = helper.make_tensor_sequence_value_info("S", F, [2])
    write("sequence_input.onnx", helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"], name="r1")], "g", [x, seq], [y]))
    bad = TensorProto(name="W", data_type=F, dims=[2, 2], raw_data=bytes(12))
    write("raw_short.onnx", helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"], name="a")], "g", [x], [y], [bad]))
    s = helper.make_tensor("W", TensorProto.STRING, [1], [b"hi"])
    write("string_init.onnx", helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"], name="a")], "g", [x], [y], [s]))


def functions():
    # MyFunc(a, b; alpha) = LeakyRelu(Mul(a, b), alpha=@alpha)
    alpha = AttributeProto(name="alpha", ref_attr_name="alpha", type=AttributeProto.FLOAT)
    leaky = helper.make_node("LeakyRelu", ["t"], ["c"])
    leaky.attribute.append(alpha)
    body = [helper.make_node("Mul", ["a", "b"], ["t"]), leaky]
    fn = helper.make_function("custom", "MyFunc", ["a", "b"], ["c"], body,
                              [helper.make_opsetid("", 13)], ["alpha"])
    x = helper.make_tensor_value_info("X", F, [2])
    y = helper.make_tensor_value_info("Y", F, [2])
    nodes = [helper.make_node("MyFunc", ["X", "X"], ["H"], name="f1", domain="custom", alpha=0.3),
             helper.make_node("MyFunc", ["H", "X"], ["Y"], name="f2", domain="custom")]
    write("function.onnx", helper.make_graph(nodes, "g", [x], [y]),
          opsets=(("", 13), ("custom", 1)), functions=[fn])
    # Loop(a) = Loop(a): inlining must stop at the depth limit.
    loop = helper.make_function("custom", "Loop", ["a"], ["c"],
                                [helper.make_node("Loop", ["a"], ["c"], domain="custom")],
                                [helper.make_opsetid("", 13), helper.make_opsetid("custom", 1)])
    write("function_recursive.onnx", helper.make_graph(
        [helper.make_node("Loop", ["X"], ["Y"], name="l1", domain="custom")], "g", [x], [y]),
        opsets=(("", 13), ("custom", 1)), functions=[loop])


def tensor_pb():
    t = numpy_helper.from_array(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32), "ints")
    with open(os.path.join(HERE, "tensor_int32.pb"), "wb") as f:
        f.write(t.SerializeToString())


if __name__ == "__main__":
    basic()
    external()
    errors()
    functions()
    tensor_pb()
