#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_safetensors into corpus/safetensors/.

Small files, one idea each. Names say what the parser must do with them, and the corpus
replay test (tests/unit/test_io_corpus.c) holds it to that:
  valid_*    must parse
  invalid_*  must be refused (with a message)
Files found by the fuzzer that once broke something can be added as valid_/invalid_ too.
Run from this directory: python3 make_corpus.py
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4, "U64": 8,
         "I64": 8, "F16": 2, "BF16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1}


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def st_file(tensors, metadata=None, pad=True, extra=b""):
    """tensors: list of (name, dtype, shape); data laid out back to back."""
    header, off = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for i, (name, dt, shape) in enumerate(tensors):
        n = numel(shape) * SIZES[dt]
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n]}
        data += bytes((i * 37 + k) & 0xFF for k in range(n))
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data + extra


def raw(header_text, data=b"", length=None):
    h = header_text.encode() if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        "valid_empty_header": raw("{}"),
        "valid_metadata_only": st_file([], {"format": "pt"}),
        "valid_one_f32": st_file([("w", "F32", [2, 3])]),
        "valid_all_dtypes": st_file([("t_" + d.lower(), d, [3]) for d in SIZES]),
        "valid_scalar_and_empty": st_file([("s", "F64", []), ("e", "BF16", [0, 4]), ("z", "I32", [4, 0, 2])]),
        "valid_model_like": st_file([("model.embed_tokens.weight", "BF16", [8, 4]),
                                     ("model.layers.0.self_attn.q_proj.weight", "U32", [4, 2]),
                                     ("model.layers.0.self_attn.q_proj.scales", "BF16", [4, 1]),
                                     ("model.norm.weight", "BF16", [4])], {"format": "mlx"}),
        "valid_unpadded": st_file([("w", "U8", [5])], pad=False),
        "valid_trailing_bytes": st_file([("w", "U16", [2])], extra=b"\0\0\0"),
        "valid_escaped_name": st_file([("a\"b\\c\u00e9", "I8", [2])]),
        "valid_null_metadata": raw('{"__metadata__":null}'),
        "valid_f8": st_file([("q", "F8_E4M3", [2, 2]), ("s", "F32", [1])]),
        "valid_4bit": raw('{"p":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}', b"\x12\x34"),
        "invalid_short": b"\x02\0\0",
        "invalid_len_past_end": raw("{}", length=1000),
        "invalid_len_absurd": raw("{}", length=1 << 62),
        "invalid_not_json": raw('{"w": {"dtype": '),
        "invalid_not_object": raw("[1,2,3]"),
        "invalid_not_utf8": raw(b'{"\xff": 1}'),
        "invalid_duplicate": raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                 '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        "invalid_missing_dtype": raw('{"w":{"shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "invalid_missing_offsets": raw('{"w":{"dtype":"F32","shape":[1]}}', b"\0" * 4),
        "invalid_unknown_dtype": raw('{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        "invalid_negative_dim": raw('{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', b"\0"),
        "invalid_real_dim": raw('{"w":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}', b"\0"),
        "invalid_offsets_past_data": raw('{"w":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}}', b"\0" * 4),
        "invalid_end_before_begin": raw('{"w":{"dtype":"U8","shape":[1],"data_offsets":[3,2]}}', b"\0" * 4),
        "invalid_size_mismatch": raw('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4),
        "invalid_overlap": raw('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
                               '"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', b"\0" * 6),
        "invalid_overflow_shape": raw('{"w":{"dtype":"F32","shape":[4294967296,4294967296],'
                                      '"data_offsets":[0,4]}}', b"\0" * 4),
        "invalid_too_many_dims": raw('{"w":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1],'
                                     '"data_offsets":[0,1]}}', b"\0"),
        "invalid_metadata_number": raw('{"__metadata__":{"n":1}}'),
        "invalid_deep_nesting": raw("{\"a\":" + "[" * 5000 + "]" * 5000 + "}"),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)
    print(f"{len(files)} files in {OUT}")


if __name__ == "__main__":
    main()
