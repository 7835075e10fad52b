"""A small float64 numpy interpreter for ONNX inference graphs, written from the ONNX operator spec.

It exists because Debian's python3-onnx is 1.12, which has no onnx.reference.ReferenceEvaluator (added in 1.13).
It shares no code with the C# engine or with PyTorch, so agreement with either is evidence for both.
Only the operators of the models in ../shared/models and the three reference CNNs are implemented;
an unknown operator or attribute value raises NotImplementedError instead of guessing.

    from onnx_numpy_eval import evaluate
    values = evaluate(onnx.load(path), {"input": x})   # dict: every tensor name -> float64 numpy array
"""
import math

import numpy as np
import onnx
from onnx import numpy_helper


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


def _float(a):
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def _pads(attrs, spatial_in, kernel, strides, dilations):
    """Begin and end pads per spatial axis, resolving auto_pad as the spec says."""
    n = len(spatial_in)
    auto_pad = _s(attrs.get("auto_pad", "NOTSET"))
    if auto_pad == "NOTSET":
        pads = list(attrs.get("pads", [0] * (2 * n)))
        return pads[:n], pads[n:]
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(n):
            out = -(-spatial_in[i] // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial_in[i], 0)
            small = total // 2
            if auto_pad == "SAME_UPPER":
                begin.append(small)
                end.append(total - small)
            else:
                begin.append(total - small)
                end.append(small)
        return begin, end
    raise NotImplementedError(f"auto_pad {auto_pad}")


def _windows(x, kernel, strides, dilations, begin, end, out_shape, fill):
    """x: (N, C, H, W) -> view (N, C, OH, OW, KH, KW) of the padded input."""
    n_sp = len(kernel)
    need = [(out_shape[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(n_sp)]
    pad_width = [(0, 0), (0, 0)]
    for i in range(n_sp):
        avail = x.shape[2 + i] + begin[i] + end[i]
        pad_width.append((begin[i], end[i] + max(need[i] - avail, 0)))
    xp = np.pad(x, pad_width, mode="constant", constant_values=fill)
    ext = [(kernel[i] - 1) * dilations[i] + 1 for i in range(n_sp)]
    win = np.lib.stride_tricks.sliding_window_view(xp, ext, axis=tuple(range(2, 2 + n_sp)))
    index = (slice(None), slice(None)) + tuple(slice(0, out_shape[i] * strides[i], strides[i]) for i in range(n_sp))
    index += tuple(slice(None, None, dilations[i]) for i in range(n_sp))
    return win[index][(slice(None), slice(None)) + tuple(slice(0, out_shape[i]) for i in range(n_sp))]


def _conv(node, x, w, b=None):
    a = _attrs(node)
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    n_sp = len(kernel)
    strides = list(a.get("strides", [1] * n_sp))
    dilations = list(a.get("dilations", [1] * n_sp))
    group = a.get("group", 1)
    begin, end = _pads(a, x.shape[2:], kernel, strides, dilations)
    out = [(x.shape[2 + i] + begin[i] + end[i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1
           for i in range(n_sp)]
    if n_sp != 2:
        raise NotImplementedError("Conv: only 2-D")
    win = _windows(x, kernel, strides, dilations, begin, end, out, 0.0)  # N, C, OH, OW, KH, KW
    n, c = x.shape[:2]
    m = w.shape[0]
    if group == 1:
        y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # N, OH, OW, M
        y = y.transpose(0, 3, 1, 2)
    else:
        cg, mg = c // group, m // group
        win = win.reshape(n, group, cg, out[0], out[1], kernel[0], kernel[1])
        wg = w.reshape(group, mg, cg, kernel[0], kernel[1])
        y = np.einsum("ngchwkl,gmckl->ngmhw", win, wg).reshape(n, m, out[0], out[1])
    if b is not None:
        y = y + b.reshape(1, m, 1, 1)
    return np.ascontiguousarray(y)


def _maxpool(node, x):
    a = _attrs(node)
    kernel = list(a["kernel_shape"])
    n_sp = len(kernel)
    strides = list(a.get("strides", [1] * n_sp))
    dilations = list(a.get("dilations", [1] * n_sp))
    if a.get("storage_order", 0) != 0:
        raise NotImplementedError("MaxPool storage_order")
    begin, end = _pads(a, x.shape[2:], kernel, strides, dilations)
    rnd = math.ceil if a.get("ceil_mode", 0) else math.floor
    out = [int(rnd((x.shape[2 + i] + begin[i] + end[i] - ((kernel[i] - 1) * dilations[i] + 1)) / strides[i])) + 1
           for i in range(n_sp)]
    if a.get("ceil_mode", 0):
        # a last window that would start inside the end padding is dropped (as PyTorch and onnx.reference do)
        out = [o - 1 if (o - 1) * strides[i] >= x.shape[2 + i] + begin[i] else o for i, o in enumerate(out)]
    win = _windows(x, kernel, strides, dilations, begin, end, out, -np.inf)
    return win.max(axis=tuple(range(2 + n_sp, 2 + 2 * n_sp)))


def _softmax(node, x, opset):
    a = _attrs(node)
    if opset < 13:
        axis = a.get("axis", 1) % x.ndim
        flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)
    axis = a.get("axis", -1)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _reshape(node, x, shape):
    a = _attrs(node)
    shape = [int(s) for s in shape]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _gemm(node, a_, b_, c_=None):
    a = _attrs(node)
    if a.get("transA", 0):
        a_ = a_.T
    if a.get("transB", 0):
        b_ = b_.T
    y = a.get("alpha", 1.0) * (a_ @ b_)
    if c_ is not None:
        y = y + a.get("beta", 1.0) * c_
    return y


def _clip(node, x, inputs, opset):
    if opset < 11:
        a = _attrs(node)
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
    else:
        lo = inputs[1] if len(inputs) > 1 and inputs[1] is not None else -np.inf
        hi = inputs[2] if len(inputs) > 2 and inputs[2] is not None else np.inf
    return np.minimum(np.maximum(x, lo), hi)


def _batchnorm(node, x, scale, bias, mean, var):
    eps = _attrs(node).get("epsilon", 1e-5)
    shp = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * scale.reshape(shp) + bias.reshape(shp)


def _run_node(node, ins, opset):
    op = node.op_type
    a = _attrs(node)
    if op == "Conv":
        return [_conv(node, *ins)]
    if op == "Relu":
        return [np.maximum(ins[0], 0.0)]
    if op == "MaxPool":
        return [_maxpool(node, ins[0])]
    if op == "GlobalMaxPool":
        return [ins[0].max(axis=tuple(range(2, ins[0].ndim)), keepdims=True)]
    if op == "GlobalAveragePool":
        return [ins[0].mean(axis=tuple(range(2, ins[0].ndim)), keepdims=True)]
    if op == "Add":
        return [ins[0] + ins[1]]
    if op == "Sub":
        return [ins[0] - ins[1]]
    if op == "Mul":
        return [ins[0] * ins[1]]
    if op == "Div":
        return [ins[0] / ins[1]]
    if op == "MatMul":
        return [np.matmul(ins[0], ins[1])]
    if op == "Gemm":
        return [_gemm(node, *ins)]
    if op == "Reshape":
        if opset < 5:
            return [_reshape(node, ins[0], a["shape"])]
        return [_reshape(node, ins[0], ins[1])]
    if op == "Flatten":
        axis = a.get("axis", 1) % (ins[0].ndim + 1) if ins[0].ndim else 0
        return [ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)]
    if op == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if op in ("Identity", "Dropout"):
        outs = [ins[0]]
        if op == "Dropout" and len(node.output) > 1:
            outs.append(np.ones(ins[0].shape, dtype=bool))
        return outs
    if op == "Softmax":
        return [_softmax(node, ins[0], opset)]
    if op == "Clip":
        return [_clip(node, ins[0], ins, opset)]
    if op == "BatchNormalization":
        return [_batchnorm(node, *ins[:5])]
    if op == "Constant":
        if "value" not in a:
            raise NotImplementedError("Constant without 'value'")
        return [_float(numpy_helper.to_array(a["value"]))]
    raise NotImplementedError(f"operator {op}")


def evaluate(model, feeds):
    """Run the graph in float64; returns every tensor (initializers, inputs, node outputs) by name."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    values = {t.name: _float(numpy_helper.to_array(t)) for t in model.graph.initializer}
    for name, arr in feeds.items():
        values[name] = _float(np.asarray(arr))
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise NotImplementedError(f"domain {node.domain}")
        ins = [values[i] if i else None for i in node.input]
        while ins and ins[-1] is None:
            ins.pop()
        outs = _run_node(node, ins, opset)
        for name, val in zip(node.output, outs):
            if name:
                values[name] = val
    return values
