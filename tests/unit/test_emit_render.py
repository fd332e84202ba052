"""Rendered commands parse back to their argv; rendered Python parses and keeps its values."""
from __future__ import annotations

import ast
import shlex

from autotune.outputs.emit.render import PyCall, ShellCommand


def test_shell_text_splits_back_to_the_argv_with_quoted_mesh():
    command = ShellCommand(words=("furiosa-llm", "serve", "./out dir"),
                           options=(("--device-mesh", "npu:0:0-3|npu:1:0-3||npu:0:4-7|npu:1:4-7"),
                                    ("--enable-prefix-caching", None)),
                           env=(("CUDA_VISIBLE_DEVICES", "0,1"),))
    text = command.render()
    assert "'npu:0:0-3|npu:1:0-3||npu:0:4-7|npu:1:4-7'" in text   # `|` would pipe unquoted
    words = shlex.split(text.replace("\\\n", " "))
    assert words[0] == "CUDA_VISIBLE_DEVICES=0,1" and words[1:] == command.argv()


def test_python_call_renders_valid_code_with_nested_calls_and_tuples():
    inner = PyCall(callee="BucketConfig", kwargs=(("prefill_buckets", [(1, 2048)]), ("decode_buckets", [(64, 4096)]),
                                                  ("max_seq_len_to_capture", 4096)))
    call = PyCall(callee="ArtifactBuilder", args=("meta-llama/Llama-3.1-70B",),
                  kwargs=(("bucket_config", inner), ("name", "x" * 80)), assign_to="builder")
    source = call.render()
    assert all(len(line) <= 100 for line in source.splitlines())
    tree = ast.parse(source)
    node = tree.body[0].value
    assert ast.literal_eval(node.args[0]) == "meta-llama/Llama-3.1-70B"
    bucket = node.keywords[0].value
    assert ast.unparse(bucket.func) == "BucketConfig"
    assert ast.literal_eval(bucket.keywords[0].value) == [(1, 2048)]
    assert call.to_dict()["kwargs"]["bucket_config"]["kwargs"]["decode_buckets"] == [[64, 4096]]


def test_short_calls_stay_on_one_line():
    assert PyCall(callee="builder.build", args=("./out",)).render() == 'builder.build("./out")'
