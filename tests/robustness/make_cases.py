#!/usr/bin/python3
# make_cases.py — writes the hostile and broken inputs of tests/robustness/cases/
# (malformed ONNX models, .pb tensor files and .kir texts) that run.sh feeds to
# kiln, checking each exact one-line error in expected.txt. Every file is tiny;
# the 2 GB+ file is made by run.sh at test time. Regenerate with
#   /usr/bin/python3 tests/robustness/make_cases.py
import os
import shutil

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
F, I64 = TensorProto.FLOAT, TensorProto.INT64


def path(name):
    p = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def model(nodes, inputs, outputs, inits=(), opset=13, opsets=None, functions=(), ir=8):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(
        g, producer_name="kiln-robustness",
        opset_imports=[helper.make_opsetid(d, v) for d, v in (opsets or [("", opset)])],
        functions=list(functions))
    m.ir_version = ir
    return m


def save(name, m):
    write_bytes(name, m.SerializeToString())


def vi(name, dt=F, shape=(2, 3)):
    return helper.make_tensor_value_info(name, dt, list(shape) if shape is not None else None)


def relu_model(**kw):
    """X[2,3] -> Relu -> Y: the smallest valid model, mutated by the cases."""
    return model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")], [vi("X")], [vi("Y")], **kw)


def weight(name="W", shape=(2, 3), dt=np.float32):
    return numpy_helper.from_array(np.arange(int(np.prod(shape)), dtype=dt).reshape(shape), name)


def raw_tensor(name, dims, raw, dt=F):
    """A TensorProto with raw_data as given, whatever its dims say."""
    t = TensorProto()
    t.name, t.data_type, t.raw_data = name, dt, raw
    t.dims[:] = dims
    return t


def add_w_model(w):
    """Y = X + W with W an initializer."""
    return model([helper.make_node("Add", ["X", w.name], ["Y"], name="add1")],
                 [vi("X")], [vi("Y")], [w])


# ---------------------------------------------------------------- files that are no model

def not_models():
    write_bytes("not_onnx.onnx", b"This is a plain text file, not an ONNX model.\n")
    write_bytes("empty.onnx", b"")
    good = relu_model().SerializeToString()
    write_bytes("truncated.onnx", good[: len(good) // 2])
    bad = bytearray(good)
    bad[0] = (bad[0] & ~7) | 7  # first key's wire type becomes 7, which doesn't exist
    write_bytes("corrupt_wiretype.onnx", bytes(bad))
    # a length prefix pointing far past the end of the file
    write_bytes("corrupt_length.onnx", bytes([0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + good[:20])
    # a well-formed TensorProto is valid protobuf, but not a model
    write_bytes("tensor_as_model.onnx", weight().SerializeToString())


# ---------------------------------------------------------------- dims and sizes

def dims_and_sizes():
    t = raw_tensor("W", [2, 3], np.zeros(6, np.float32).tobytes())
    t.dims[:] = [2, -3]
    save("negative_dim.onnx", add_w_model(t))
    t = raw_tensor("W", [0, 3], b"")
    save("zero_dim_init.onnx", model([helper.make_node("Add", ["X", "W"], ["Y"], name="add1")],
                                     [vi("X", shape=(0, 3))], [vi("Y", shape=(0, 3))], [t]))
    save("zero_dim_input.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                      [vi("X", shape=(0, 3))], [vi("Y", shape=(0, 3))]))
    # element count overflows 64 bits: 2^40 * 2^40
    t = raw_tensor("W", [1], b"\0\0\0\0")
    t.dims[:] = [1 << 40, 1 << 40]
    save("overflow_elems.onnx", add_w_model(t))
    # element count fits, byte size doesn't: 2^61 floats
    t.dims[:] = [1 << 61]
    save("overflow_bytes.onnx", add_w_model(t))
    # fits in 64 bits but is absurd: 2^40 floats (4 TiB)
    t.dims[:] = [1 << 20, 1 << 20]
    save("huge_init.onnx", add_w_model(t))
    # a graph input whose byte size overflows 64 bits
    save("huge_input.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                  [vi("X", shape=(1 << 40, 1 << 40))], [vi("Y", shape=None)]))
    # a graph input of 2^40 elements: fits in 64 bits, far too big to compile
    save("huge_input2.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                   [vi("X", shape=(1 << 20, 1 << 20))], [vi("Y", shape=None)]))
    # a node whose output would be 2^62 elements (Expand to a constant shape)
    shape = numpy_helper.from_array(np.array([1 << 31, 1 << 31], np.int64), "S")
    save("huge_output.onnx", model([helper.make_node("Expand", ["X", "S"], ["Y"], name="expand1")],
                                   [vi("X", shape=(1, 1))], [vi("Y", shape=None)], [shape]))
    # ConstantOfShape folding a 2^34-element constant at compile time
    shape = numpy_helper.from_array(np.array([1 << 17, 1 << 17], np.int64), "S")
    save("huge_fold.onnx",
         model([helper.make_node("ConstantOfShape", ["S"], ["C"], name="cos1"),
                helper.make_node("Add", ["X", "C"], ["Y"], name="add1")],
               [vi("X", shape=(1, 1))], [vi("Y", shape=None)], [shape]))
    # a Constant attribute tensor whose element count overflows
    val = raw_tensor("v", [1 << 40, 1 << 40], b"\0\0\0\0")
    save("overflow_attr.onnx",
         model([helper.make_node("Constant", [], ["C"], name="const1", value=val),
                helper.make_node("Add", ["X", "C"], ["Y"], name="add1")],
               [vi("X")], [vi("Y")]))
    t = raw_tensor("W", [1] * 9, b"\0\0\0\0")
    save("rank9_init.onnx", add_w_model(t))
    # 320 KB of constants that folding would grow into gigabytes: Add broadcasting
    # a column by a row, Gather repeating rows
    col = numpy_helper.from_array(np.ones((40000, 1), np.float32), "A")
    row = numpy_helper.from_array(np.ones((1, 40000), np.float32), "B")
    save("fold_bomb_add.onnx",
         model([helper.make_node("Add", ["A", "B"], ["C"], name="add1"),
                helper.make_node("Add", ["X", "C"], ["Y"], name="add2")],
               [vi("X", shape=(1, 1))], [vi("Y", shape=None)], [col, row]))
    data = numpy_helper.from_array(np.ones((2, 20000), np.float32), "D")
    idx = numpy_helper.from_array(np.zeros(40000, np.int32), "I")
    save("fold_bomb_gather.onnx",
         model([helper.make_node("Gather", ["D", "I"], ["C"], name="gather1"),
                helper.make_node("Add", ["X", "C"], ["Y"], name="add2")],
               [vi("X", shape=(1, 1))], [vi("Y", shape=None)], [data, idx]))


# ---------------------------------------------------------------- tensor data

def tensor_data():
    t = raw_tensor("W", [2, 3], np.zeros(5, np.float32).tobytes())
    save("raw_short.onnx", add_w_model(t))
    t = raw_tensor("W", [2, 3], np.zeros(7, np.float32).tobytes())
    save("raw_long.onnx", add_w_model(t))
    t = helper.make_tensor("W", F, [3], [1.0, 2.0, 3.0])
    t.dims[:] = [2, 3]
    save("typed_short.onnx", add_w_model(t))
    t = helper.make_tensor("W", F, [0], [])
    t.dims[:] = [2, 3]
    save("no_data.onnx", add_w_model(t))
    t = helper.make_tensor("W", TensorProto.STRING, [1], [b"x"])
    save("string_init.onnx", add_w_model(t))
    t = raw_tensor("W", [2, 3], np.zeros(6, np.float32).tobytes())
    t.data_type = 99
    save("unknown_dtype.onnx", add_w_model(t))


# ---------------------------------------------------------------- types

def types():
    # an initializer also listed as a graph input (IR < 4), with another dtype
    w = weight()
    m = model([helper.make_node("Add", ["X", "W"], ["Y"], name="add1")],
              [vi("X"), vi("W", I64)], [vi("Y")], [w], ir=3)
    save("init_input_dtype.onnx", m)
    m = model([helper.make_node("Add", ["X", "W"], ["Y"], name="add1")],
              [vi("X"), vi("W", F, (3, 2))], [vi("Y")], [w], ir=3)
    save("init_input_shape.onnx", m)
    # a node mixing dtypes
    save("mixed_dtypes.onnx", add_w_model(weight(dt=np.int64)))
    save("input_no_shape.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                      [vi("X", shape=None)], [vi("Y")]))
    seq = helper.make_value_info("S", helper.make_sequence_type_proto(
        helper.make_tensor_type_proto(F, [2])))
    save("sequence_input.onnx", model([helper.make_node("Identity", ["S"], ["Y"], name="id1")],
                                      [seq], [vi("Y")]))
    save("f16_input.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                 [vi("X", TensorProto.FLOAT16)], [vi("Y", TensorProto.FLOAT16)]))


# ---------------------------------------------------------------- graph structure

def structure():
    save("undefined_input.onnx", model([helper.make_node("Relu", ["nope"], ["Y"], name="relu1")],
                                       [vi("X")], [vi("Y")]))
    save("undefined_output.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                        [vi("X")], [vi("Z")]))
    save("cycle.onnx", model([helper.make_node("Add", ["X", "B"], ["A"], name="add1"),
                              helper.make_node("Relu", ["A"], ["B"], name="relu1"),
                              helper.make_node("Relu", ["A"], ["Y"], name="relu2")],
                             [vi("X")], [vi("Y")]))
    save("self_loop.onnx", model([helper.make_node("Add", ["X", "A"], ["A"], name="add1"),
                                  helper.make_node("Relu", ["A"], ["Y"], name="relu1")],
                                 [vi("X")], [vi("Y")]))
    save("dup_init.onnx", model([helper.make_node("Add", ["X", "W"], ["Y"], name="add1")],
                                [vi("X")], [vi("Y")], [weight(), weight()]))
    save("dup_input.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                 [vi("X"), vi("X")], [vi("Y")]))
    save("dup_output.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1")],
                                  [vi("X")], [vi("Y"), vi("Y")]))
    save("dup_producer.onnx", model([helper.make_node("Relu", ["X"], ["Y"], name="relu1"),
                                     helper.make_node("Sigmoid", ["X"], ["Y"], name="sig1")],
                                    [vi("X")], [vi("Y")]))
    save("output_is_input.onnx", model([helper.make_node("Relu", ["X"], ["X"], name="relu1")],
                                       [vi("X")], [vi("X")]))
    save("output_is_init.onnx", model([helper.make_node("Relu", ["X"], ["W"], name="relu1")],
                                      [vi("X")], [vi("W")], [weight()]))
    save("no_graph.onnx", helper.make_model(helper.make_graph([], "g", [], []),
                                            opset_imports=[helper.make_opsetid("", 13)]))
    m = relu_model()
    m.ClearField("graph")
    save("no_graph_field.onnx", m)
    save("unknown_op.onnx", model([helper.make_node("FrobnicateTensor", ["X"], ["Y"], name="frob1")],
                                  [vi("X")], [vi("Y")]))
    save("too_many_inputs.onnx", model([helper.make_node("Relu", ["X", "X"], ["Y"], name="relu1")],
                                       [vi("X")], [vi("Y")]))
    save("missing_input.onnx", model([helper.make_node("Add", ["X", ""], ["Y"], name="add1")],
                                     [vi("X")], [vi("Y")]))


# ---------------------------------------------------------------- attributes

def attributes():
    save("attr_missing.onnx", model([helper.make_node("Cast", ["X"], ["Y"], name="cast1")],
                                    [vi("X")], [vi("Y")]))
    save("attr_wrong_type.onnx",
         model([helper.make_node("Transpose", ["X"], ["Y"], name="tr1", perm=[1.0, 0.0])],
               [vi("X")], [vi("Y", shape=(3, 2))]))
    save("attr_string_for_int.onnx",
         model([helper.make_node("Softmax", ["X"], ["Y"], name="sm1", axis="last")],
               [vi("X")], [vi("Y")]))
    save("attr_bad_value.onnx",
         model([helper.make_node("Transpose", ["X"], ["Y"], name="tr1", perm=[0, 7])],
               [vi("X")], [vi("Y", shape=(3, 2))]))
    m = model([helper.make_node("Softmax", ["X"], ["Y"], name="sm1", axis=1)], [vi("X")], [vi("Y")])
    m.graph.node[0].attribute.append(helper.make_attribute("axis", 0))
    save("attr_dup.onnx", m)
    m = model([helper.make_node("Softmax", ["X"], ["Y"], name="sm1")], [vi("X")], [vi("Y")])
    a = m.graph.node[0].attribute.add()
    a.name = "axis"  # no type and no value
    save("attr_empty.onnx", m)
    then_g = helper.make_graph([helper.make_node("Relu", ["X"], ["T"])], "then", [], [vi("T")])
    save("attr_graph.onnx",
         model([helper.make_node("If", ["C"], ["Y"], name="if1", then_branch=then_g,
                                 else_branch=then_g)],
               [vi("C", TensorProto.BOOL, ()), vi("X")], [vi("Y")]))


# ---------------------------------------------------------------- opsets

def opsets():
    save("opset_new.onnx", relu_model(opset=99))
    save("opset_zero.onnx", relu_model(opset=0))
    save("opset_none.onnx", relu_model(opsets=[("com.example", 1)]))
    save("opset_huge.onnx", relu_model(opset=1 << 40))
    m = model([helper.make_node("Relu", ["X"], ["Y"], name="relu1", domain="com.example")],
              [vi("X")], [vi("Y")])
    save("domain_no_opset.onnx", m)


# ---------------------------------------------------------------- external data

def external():
    os.makedirs(path("ext"), exist_ok=True)
    data = np.arange(6, dtype=np.float32)
    with open(path("ext/weights.bin"), "wb") as f:
        f.write(data.tobytes())  # 24 bytes

    def ext(name, **kv):
        t = raw_tensor("W", [2, 3], b"")
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in kv.items():
            e = t.external_data.add()
            e.key, e.value = k, v
        save("ext/" + name, add_w_model(t))

    ext("abs.onnx", location="/etc/passwd")
    ext("dotdot.onnx", location="../ext/weights.bin")
    ext("dotdot_deep.onnx", location="sub/../../weights.bin")
    ext("short.onnx", location="weights.bin", offset="8")
    ext("length_mismatch.onnx", location="weights.bin", length="12")
    ext("bad_offset.onnx", location="weights.bin", offset="-8")
    ext("huge_offset.onnx", location="weights.bin", offset="99999999999999999999999")
    ext("missing.onnx", location="no_such_file.bin")
    ext("no_location.onnx", offset="0")
    ext("directory.onnx", location=".")
    ext("symlink.onnx", location="escape.bin")
    ext("ok.onnx", location="weights.bin")
    link = path("ext/escape.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("../not_onnx.onnx", link)


# ---------------------------------------------------------------- recursion bombs

def recursion():
    # a function that calls itself
    f = helper.make_function("local", "Loop", ["x"], ["y"],
                             [helper.make_node("Loop", ["x"], ["y"], domain="local")],
                             [helper.make_opsetid("", 13), helper.make_opsetid("local", 1)])
    save("function_recursive.onnx",
         model([helper.make_node("Loop", ["X"], ["Y"], name="call1", domain="local")],
               [vi("X")], [vi("Y")], opsets=[("", 13), ("local", 1)], functions=[f]))
    # a call that leaves out a formal input the body's Mul needs
    f = helper.make_function("local", "Scale", ["x", "s"], ["y"],
                             [helper.make_node("Mul", ["x", "s"], ["y"])],
                             [helper.make_opsetid("", 13)])
    save("function_missing_input.onnx",
         model([helper.make_node("Scale", ["X"], ["Y"], name="call1", domain="local")],
               [vi("X")], [vi("Y")], opsets=[("", 13), ("local", 1)], functions=[f]))
    # a chain of functions each calling the next one twice: 2^30 nodes once expanded
    fns = [helper.make_function("local", "F0", ["x"], ["y"],
                                [helper.make_node("Relu", ["x"], ["y"])],
                                [helper.make_opsetid("", 13)])]
    for k in range(1, 31):
        fns.append(helper.make_function(
            "local", "F%d" % k, ["x"], ["y"],
            [helper.make_node("F%d" % (k - 1), ["x"], ["t"], domain="local"),
             helper.make_node("F%d" % (k - 1), ["t"], ["y"], domain="local")],
            [helper.make_opsetid("", 13), helper.make_opsetid("local", 1)]))
    save("function_bomb.onnx",
         model([helper.make_node("F30", ["X"], ["Y"], name="call1", domain="local")],
               [vi("X")], [vi("Y")], opsets=[("", 13), ("local", 1)], functions=fns))
    # subgraphs nested 200 deep (If inside If inside ...): protobuf nesting
    g = helper.make_graph([helper.make_node("Relu", ["X"], ["T0"])], "b0", [], [vi("T0")])
    for k in range(1, 200):
        g = helper.make_graph([helper.make_node("If", ["C"], ["T%d" % k], then_branch=g,
                                                else_branch=g)],
                              "b%d" % k, [], [vi("T%d" % k)])
        # share the same branch object: the file grows linearly, not 2^k
        g.node[0].attribute[1].g.CopyFrom(helper.make_graph([], "e", [], []))
    save("nested_subgraphs.onnx",
         model([helper.make_node("If", ["C"], ["Y"], name="if1", then_branch=g,
                                 else_branch=helper.make_graph([], "e", [], []))],
               [vi("C", TensorProto.BOOL, ()), vi("X")], [vi("Y")]))
    # raw protobuf nesting: a ModelProto graph (field 7) of nodes whose attribute
    # holds a graph of nodes ..., written by hand 5000 deep (a stack bomb)
    write_bytes("deep_protobuf.onnx", deep_bytes(5000))


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def deep_bytes(depth):
    # GraphProto.node (1) -> NodeProto.attribute (5) -> AttributeProto.g (6) -> GraphProto ...
    inner = b""
    for _ in range(depth):
        attr = b"\x32" + varint(len(inner)) + inner          # AttributeProto.g
        node = b"\x2a" + varint(len(attr)) + attr            # NodeProto.attribute
        inner = b"\x0a" + varint(len(node)) + node           # GraphProto.node
    opset = helper.make_opsetid("", 13).SerializeToString()
    return b"\x08\x08" + b"\x3a" + varint(len(inner)) + inner + b"\x42" + varint(len(opset)) + opset


# ---------------------------------------------------------------- .pb tensor files

def tensor_files():
    os.makedirs(path("pb"), exist_ok=True)
    save("pb/model.onnx", relu_model())
    x = numpy_helper.from_array(np.ones((2, 3), np.float32), "X")
    good = x.SerializeToString()
    write_bytes("pb/good.pb", good)
    write_bytes("pb/truncated.pb", good[: len(good) - 5])
    write_bytes("pb/not_a_tensor.pb", b"hello world, not a tensor\n")
    write_bytes("pb/empty.pb", b"")
    t = raw_tensor("X", [2, 3], np.zeros(5, np.float32).tobytes())
    write_bytes("pb/raw_short.pb", t.SerializeToString())
    t = raw_tensor("X", [1], b"\0\0\0\0")
    t.dims[:] = [1 << 40, 1 << 40]
    write_bytes("pb/overflow.pb", t.SerializeToString())
    t.dims[:] = [-2, 3]
    write_bytes("pb/negative.pb", t.SerializeToString())
    write_bytes("pb/int64.pb", numpy_helper.from_array(np.ones((2, 3), np.int64), "X")
                .SerializeToString())
    write_bytes("pb/wrong_shape.pb", numpy_helper.from_array(np.ones((3, 2), np.float32), "X")
                .SerializeToString())
    write_bytes("pb/wrong_name.pb", numpy_helper.from_array(np.ones((2, 3), np.float32), "Q")
                .SerializeToString())
    t = raw_tensor("X", [2, 3], b"")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "../not_onnx.onnx"
    write_bytes("pb/external_escape.pb", t.SerializeToString())
    # verify case folders: a broken input, a broken expected output
    for case, name, data in (("case_bad_input", "input_0.pb", good[:7]),
                             ("case_bad_output", "output_0.pb", b"junk"),
                             ("case_wrong_output", "output_0.pb",
                              numpy_helper.from_array(np.ones((2, 2), np.float32), "Y")
                              .SerializeToString())):
        d = "pb/%s/test_data_set_0" % case
        os.makedirs(path(d), exist_ok=True)
        save("pb/%s/model.onnx" % case, relu_model())
        write_bytes(d + "/input_0.pb", good)
        write_bytes(d + "/output_0.pb", numpy_helper.from_array(np.ones((2, 3), np.float32), "Y")
                    .SerializeToString())
        write_bytes(d + "/" + name, data)
    os.makedirs(path("pb/case_no_data"), exist_ok=True)
    save("pb/case_no_data/model.onnx", relu_model())


# ---------------------------------------------------------------- .kir texts

KIR = {
    "no_header.kir": "input %x : f32[2]\n",
    "bad_token.kir": "graph g opset 13\ninput %x : f32[2]\n  $oops\n",
    "unterminated_string.kir": 'graph "g opset 13\n',
    "bad_escape.kir": 'graph "g\\q" opset 13\n',
    "unknown_dtype.kir": "graph g opset 13\ninput %x : f31[2]\n",
    "rank9.kir": "graph g opset 13\ninput %x : f32[1,1,1,1,1,1,1,1,1]\n",
    "overflow_dims.kir": "graph g opset 13\ninput %x : f32[4294967296, 4294967296]\n",
    "huge_dim_literal.kir": "graph g opset 13\ninput %x : f32[99999999999999999999999]\n",
    "negative_dim.kir": "graph g opset 13\ninput %x : f32[-3]\n",
    "huge_input.kir": ("graph g opset 13\ninput %x : f32[1048576, 1048576]\n"
                       "%y = Relu(%x)\noutput %y\n"),
    "huge_param.kir": ("graph g opset 13\ninput %x : f32[2]\n"
                       "param %w : f32[1073741824, 1073741824] = zeros\n"
                       "%y = Add(%x, %w)\noutput %y\n"),
    "init_bomb.kir": ("graph g opset 13\ninput %x : f32[1]\n"
                      "param %w : f64[107324, 107, 37] = zeros\n%y = Add(%x, %w)\noutput %y\n"),
    "data_count.kir": "graph g opset 13\nconst %c : f32[2, 2] = [1.0, 2.0, 3.0]\n",
    "data_too_many.kir": "graph g opset 13\nconst %c : f32[2] = [1.0, 2.0, 3.0]\n",
    "int_range.kir": "graph g opset 13\nconst %c : i8[1] = [300]\n",
    "undefined_value.kir": "graph g opset 13\ninput %x : f32[2]\n%y = Relu(%z)\noutput %y\n",
    "duplicate_value.kir": ("graph g opset 13\ninput %x : f32[2]\n"
                            "%y = Relu(%x)\n%y = Sigmoid(%x)\noutput %y\n"),
    "unknown_op.kir": "graph g opset 13\ninput %x : f32[2]\n%y = Frobnicate(%x)\noutput %y\n",
    "arity.kir": "graph g opset 13\ninput %x : f32[2]\n%y = Relu(%x, %x)\noutput %y\n",
    "cycle.kir": ("graph g opset 13\ninput %x : f32[2]\n%a = Add(%x, %b)\n%b = Relu(%a)\n"
                  "%y = Relu(%a)\noutput %y\n"),
    "nul_byte.kir": "graph g opset 13\ninput %x : f32[2]\x00\n",
    "opset_new.kir": "graph g opset 99\ninput %x : f32[2]\n%y = Relu(%x)\noutput %y\n",
    "opset_huge.kir": "graph g opset 99999999999\n",
    "attr_wrong_type.kir": ("graph g opset 13\ninput %x : f32[2, 3]\n"
                            "%y = Transpose(%x) {perm = \"no\"}\noutput %y\n"),
    "symbolic_data.kir": "graph g opset 13\nconst %c : f32[N] = [1.0]\n",
    "truncated.kir": "graph g opset 13\ninput %x : f32[2\n",
    "deep_brackets.kir": "graph g opset 13\nconst %c : f32[1] = " + "[" * 10000 + "\n",
    "omitted_input.kir": "graph g opset 13\ninput %x : f32[2]\n%y = Add(%x, _)\noutput %y\n",
    "omitted_output.kir": "graph g opset 13\ninput %x : f32[2]\n_ = Relu(%x)\noutput %x\n",
    "self_loop.kir": "graph g opset 13\ninput %x : f32[2]\n%a = Add(%x, %a)\noutput %a\n",
    "param_no_data.kir": ("graph g opset 13\ninput %x : f32[2]\nparam %w : f32[2]\n"
                          "%y = Add(%x, %w)\noutput %y\n"),
    "node_opset.kir": "graph g opset 13\ninput %x : f32[2]\n%y = Relu(%x) opset 40\noutput %y\n",
    "attr_string_for_int.kir": ("graph g opset 13\ninput %x : f32[2, 3]\n"
                                "%y = Softmax(%x) {axis = \"last\"}\noutput %y\n"),
    "long_line.kir": "graph g opset 13\ninput %" + "x" * 100000 + " : f32[2]\n%y = Relu(%q)\n",
}


def kir():
    for name, text in KIR.items():
        write_bytes("kir/" + name, text.encode("latin-1"))


if __name__ == "__main__":
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for make in (not_models, dims_and_sizes, tensor_data, types, structure, attributes, opsets,
                 external, recursion, tensor_files, kir):
        make()
