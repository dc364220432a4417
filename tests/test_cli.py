"""The CLI: one clear line and a non-zero exit for bad input, never a traceback."""

import hashlib

import pytest

from tests.support import SMOKE, run_cli


@pytest.mark.parametrize("content, override, expected", [
    ("seed = [\n", None, "malformed TOML"),
    ("seed = 1\n[world]\ncolour = 3\n", None, "world.colour: unknown key"),
    ("seed = 1\n", "world.n_items=-10", "world.n_items: must be >= 10"),
    ("seed = 1\n[world]\nn_users = -1\n", None, "world.n_users: must be >= 2"),
])
def test_bad_config_gives_one_line(tmp_path, content, override, expected):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    args = ["world", "--config", str(cfg), "--out", str(tmp_path / "w")]
    if override:
        args += ["--set", override]
    result = run_cli(*args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_world_is_byte_identical_per_seed(tmp_path):
    for name in ("a", "b"):
        assert run_cli("world", "--config", str(SMOKE), "--out", str(tmp_path / name)).returncode == 0
    assert run_cli("world", "--config", str(SMOKE), "--set", "seed=99", "--out", str(tmp_path / "c")).returncode == 0
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert set(a) == {"brands.parquet", "advertisers.parquet", "items.parquet", "users.parquet",
                      "history.parquet", "requests.parquet", "meta.json"}
    assert a == b
    assert all(a[k] != c[k] for k in ("items.parquet", "users.parquet", "requests.parquet", "history.parquet"))


def test_images_writes_a_png(tmp_path):
    out = tmp_path / "sheet.png"
    result = run_cli("images", "--config", str(SMOKE), "--out", str(out), "--n-items", "4", "--size", "32")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, expected", [
    (["exchange-rate", "--set", "sweep.primary=foo"], "sweep: unknown downstream metric"),
    (["exchange-rate", "--set", "sweep.variants={}", "--set", "sweep.moon_posttrain_steps=[]"], "at least 3 variants"),
    (["scaling", "--set", "scaling.values=[1, 1]"], "scaling.values: need at least 3 distinct"),
    (["scaling", "--set", "scaling.axis=width"], "scaling.axis: must be one of"),
    (["aa", "--n", "0"], "--n must be >= 1"),
    (["ab", "--set", "traffic.n_days=1"], "traffic.n_days: must be >= 2"),
])
def test_experiment_commands_reject_bad_settings_in_one_line(tmp_path, args, expected):
    result = run_cli(args[0], "--config", str(SMOKE), "--out", str(tmp_path / "o"), *args[1:])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command, out, extra, expected", [
    ("world", "file", [], "is a file, not a folder"),
    ("ab", "file", [], "is a file, not a folder"),
    ("exchange-rate", "file/sub", [], "is a file, not a folder"),
    ("demo", "file", [], "is a file, not a folder"),
    ("bench", "file", [], "is a file, not a folder"),
    ("scaling", "file", [], "is a file, not a folder"),
    ("validate exchange", "file", [], "is a file, not a folder"),
    ("images", "file", [], "is not a PNG; refusing to overwrite it"),
    ("images", "dir", [], "is a folder; give a file path"),
    ("images", "new.png", ["--size", "100000"], "--size must be between 8 and 1024"),
    ("images", "new.png", ["--n-items", "0"], "--n-items must be between 1 and 256"),
    ("world", "new", ["--set", "world.n_itemz=5"], "did you mean 'n_items'?"),
])
def test_an_unusable_out_or_size_is_refused_before_any_work(tmp_path, command, out, extra, expected):
    (tmp_path / "file").write_text("keep me")
    (tmp_path / "dir").mkdir()
    result = run_cli(*command.split(), "--config", str(SMOKE), "--out", str(tmp_path / out), *extra)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr
    assert (tmp_path / "file").read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_version_and_help_with_defaults():
    assert run_cli("--version").stdout.startswith("adsim ")
    text = run_cli("exchange-rate", "predict", "--help").stdout
    assert text.startswith("usage: adsim exchange-rate predict") and "(default: 0.95)" in text


@pytest.mark.parametrize("override, expected", [
    ("arms.treatment.encoder=nope", "unknown encoder 'nope'"),
    ("arms.treatment.encoder_args.noise=-2", "arms.treatment.encoder_args.noise: must be >= 0"),
    ("sweep.variants.v={encoder=\"random\", encoder_args={dims=3}}", "sweep.variants.v.encoder_args.dims: unknown key"),
    ("arms={treatment={}}", "arms: an arm named 'control' is required"),
])
def test_ab_cli_bad_input_is_one_line(tmp_path, override, expected):
    result = run_cli("ab", "--config", str(SMOKE), "--set", override, "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_ab_cli_refuses_nan_embeddings(smoke_world, tmp_path):
    from tests.encoders.test_providers import _write
    paths, _, _ = _write(tmp_path, smoke_world, poison="nan")
    override = f'arms.treatment={{encoder="precomputed", encoder_args={{items="{paths["items"]}", queries="{paths["queries"]}"}}}}'
    result = run_cli("ab", "--config", str(SMOKE), "--set", override, "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "NaN" in result.stderr


def test_a_config_is_checked_before_any_heavy_import():
    """`adsim config` (and every command's config check) answers without importing torch, so a bad
    setting is reported in well under a second rather than after the model stack has loaded."""
    import subprocess
    import sys
    code = ("import sys; from adsim.cli import main; rc = main(['config', '-c', sys.argv[1]]); "
            "print('heavy:', sorted(m for m in ('torch', 'faiss', 'lightning', 'torchrec', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(SMOKE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"


@pytest.mark.parametrize("args", [
    ["ab", "--replicates", "0"], ["ab", "--set", "engine.batch_size=50000000"], ["aa", "--n", "0"],
    ["validate", "coverage", "--draws", "0"], ["validate", "exchange", "--replicates", "1"],
    ["bench", "--scale", "--factors", "1", "1", "2"], ["exchange-rate", "--replicates", "0"], ["exchange-rate", "--retrain"],
    ["ab", "--workers", "2"], ["encoder", "compare", "--seeds", "0"], ["encoder", "compare", "--rows", "moon,no_such_row"],
])
def test_a_studys_bad_argument_is_refused_before_any_heavy_import(tmp_path, args):
    """A study's own arguments (and whether its sizes fit) are checked before the study's modules
    load, so the refusal takes a second, not the model stack's import time."""
    import subprocess
    import sys
    code = ("import sys; from adsim.cli import main; print('rc', main(sys.argv[1:])); "
            "print('heavy:', sorted(m for m in ('torch', 'faiss', 'lightning', 'torchrec', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, *args, "-c", str(SMOKE), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-2:] == ["rc 2", "heavy: []"], result.stdout + result.stderr
    assert not (tmp_path / "o").exists()
