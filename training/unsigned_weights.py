"""Rewrite an int8 ONNX model's weights as uint8, so that CPUs without VNNI compute it without overflow.

    /tmp/train/bin/python training/unsigned_weights.py qa_service/models/encoder/encoder.onnx

Why: ``quantize_dynamic`` (onnxruntime) stores weights as int8, and onnxruntime multiplies uint8
activations by them. CPUs with AVX512-VNNI or AVX-VNNI add up those products in 32 bits; CPUs
with only AVX2 (many AMD EPYC, older Intel) use VPMADDUBSW, which adds two products into 16
bits and saturates past 32,767 (255 x 127 x 2 = 64,770). The same file then gives other vectors
on other machines: the bundled sentence vectors, made on a VNNI machine, were off by up to 0.042
per dimension on an AVX2 one, and the bundled question set's figures moved. A uint8 weight with
zero point 128 is the same number (w + 128 - 128), and uint8 x uint8 products are widened to 16
bits before they are added (VPMADDWD), on every x86-64 CPU: nothing saturates, and the integer
products are exact everywhere. What is left between two CPUs is float rounding in the layers
between the matrix products (0.006 per dimension at most on the bundled article's sentences).

The model is rewritten in place; its new sha256 is printed (the model's card must carry it).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def unsigned(model: onnx.ModelProto) -> int:
    """Make the int8 weight (and its zero point) of every MatMulInteger uint8, 128 higher; how many
    it changed."""
    inits = {i.name: i for i in model.graph.initializer}
    changed = 0
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or len(node.input) < 4:
            continue
        weight, zero = inits.get(node.input[1]), inits.get(node.input[3])
        if weight is None or zero is None:
            continue  # a product of two activations: quantised at run time
        w, z = numpy_helper.to_array(weight), numpy_helper.to_array(zero)
        if w.dtype == np.uint8:
            continue  # already unsigned
        if w.dtype != np.int8 or z.dtype != np.int8:
            raise SystemExit(f"{weight.name}: not an int8 weight; not rewritten")
        weight.CopyFrom(numpy_helper.from_array((w.astype(np.int16) + 128).astype(np.uint8), weight.name))
        zero.CopyFrom(numpy_helper.from_array((z.astype(np.int16) + 128).astype(np.uint8), zero.name))
        changed += 1
    return changed


def rewrite(path: Path) -> int:
    """Rewrite the model file at ``path`` in place (:func:`unsigned`); how many weights it changed."""
    model = onnx.load(str(path))
    changed = unsigned(model)
    onnx.save(model, str(path))
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    args = parser.parse_args(argv)
    changed = rewrite(args.model)
    digest = hashlib.sha256(args.model.read_bytes()).hexdigest()
    print(f"{args.model}: {changed} weight matrices made uint8; sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
