#!/usr/bin/env python3
"""Builds the libFuzzer binaries for scripts/fuzz.sh:

    build_fuzzers.py NORMAL_BUILD_DIR FUZZ_DIR HARNESS...

Each harness and the sources of the parser it fuzzes are compiled by clang with
-fsanitize=fuzzer,address,undefined (coverage feedback and sanitizers where the input is read)
and linked against the rest of morphtrain as the normal build compiled it (its static libraries;
an object given first takes precedence over the archive member of the same source). Why not all
of morphtrain under clang: on this 2-core machine an instrumented build of all ~190 files,
oneDNN kernels included, takes about an hour at low priority and adds no coverage of a parser.
The compile flags of each source come from the normal build's compile_commands.json, the
libraries from its link line of tools/morphtrain, so both stay in step with CMake."""
import json
import os
import shlex
import subprocess
import sys

# harness -> the sources of the parser it reaches (instrumented); everything else comes linked.
PARSERS = {
    "safetensors": ["core/safetensors.cpp", "core/json_read.cpp"],
    "idx": ["trainers/idx.cpp"],
    "cifar": ["trainers/cifar.cpp"],
    "image": ["trainers/image_codec.cpp"],
    "config": ["tools/config.cpp", "core/yaml_read.cpp", "tools/config_schema.cpp", "tools/settings.cpp"],
    "yaml_graph": ["layers/yaml_graph.cpp", "core/yaml_read.cpp", "layers/yaml_graph_ops.cpp", "layers/zoo/yaml_model.cpp"],
    "structure": ["morph/structure_file.cpp", "morph/channel_selection.cpp", "core/json_read.cpp"],
    "trainer_state": ["trainers/trainer_state.cpp", "trainers/checkpoint_checksums.cpp", "core/json_read.cpp"],
    "latency_table": ["morph/latency_table.cpp", "core/json_read.cpp"],
    "onnx": ["layers/onnx_import.cpp", "layers/onnx_import_ops.cpp", "layers/onnx_constant_folding.cpp"],
}
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def compile_flags(build, source):
    """The normal build's flags for `source` (or for tools/main.cpp), minus output and optimisation."""
    commands = json.load(open(os.path.join(build, "compile_commands.json")))
    by_file = {os.path.relpath(e["file"], ROOT): e["command"] for e in commands}
    args = shlex.split(by_file.get(source, by_file["tools/main.cpp"]))[1:]
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-c"):
            skip = True
        elif not (a.startswith("-O") or a == "-DNDEBUG" or a == "-Wno-restrict" or a.endswith(".cpp")):
            out.append(a)
    return out


def link_libraries(build):
    """What tools/morphtrain links besides its main.cpp.o, as paths usable from anywhere."""
    line = subprocess.run(["ninja", "-C", build, "-t", "commands", "tools/morphtrain"], check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    args = shlex.split(line)
    libs = args[args.index("tools/morphtrain") + 1:]
    libs = [a for a in libs if a not in ("&&", ":")]
    return [os.path.join(build, a) if a.endswith(".a") and not a.startswith("/") else a for a in libs]


def run(cmd):
    print(" ".join(cmd[:1] + ["..."] + cmd[-3:]), flush=True)
    subprocess.run(cmd, check=True)


def main():
    build, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(os.path.join(out, "obj"), exist_ok=True)
    libs = link_libraries(build)
    for harness in sys.argv[3:]:
        sources = ["tests/fuzz/fuzz_%s.cpp" % harness] + PARSERS[harness]
        objects = []
        for src in sources:
            obj = os.path.join(out, "obj", src.replace("/", "_") + ".o")
            if not os.path.exists(obj) or os.path.getmtime(obj) < os.path.getmtime(os.path.join(ROOT, src)):
                run(["clang++"] + compile_flags(build, src) + ["-I" + os.path.join(ROOT, "tests/fuzz"), "-O1", "-g",
                     "-fsanitize=fuzzer-no-link"] + SANITIZE + ["-c", os.path.join(ROOT, src), "-o", obj])
            objects.append(obj)
        run(["clang++", "-fsanitize=fuzzer"] + SANITIZE + objects + ["-o", os.path.join(out, "fuzz_" + harness)] + libs)


if __name__ == "__main__":
    main()
