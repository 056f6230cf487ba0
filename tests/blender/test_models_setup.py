"""Issue 31: where the background-removal model is missing, the add-on names the folder its
backend reads (GET /health models_dir) and places the model there from the preferences."""

from __future__ import annotations

import shutil

from bl_harness import ROOT, run_blender


def test_the_model_is_placed_where_the_backend_reads_it(profile, tmp_path):
    empty = tmp_path / "models"  # what the backend reads: nothing there yet
    shared = tmp_path / "xdg" / ".u2net"  # a good copy elsewhere (setup-models copies it: offline)
    shared.mkdir(parents=True)
    shutil.copy(ROOT / ".models" / "u2net" / "u2netp.onnx", shared / "u2netp.onnx")
    result = run_blender(profile, "models_setup", {"models_dir": str(empty)}, timeout=500,
                         SLICE3D_PYTHON="", U2NET_HOME="", SLICE3D_MODELS_DIR=str(empty),
                         XDG_DATA_HOME=str(tmp_path / "xdg"),
                         HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
                         https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9",
                         NO_PROXY="", no_proxy="")
    assert result["start"] == ["FINISHED"]
    assert result["models_dir"] == str(empty) and result["ready"] is False and result["missing"]
    # Every message names the folder: the panel's, the remote one, the failed job's.
    assert str(empty) in result["local_text"] and "Install Background-Removal Model" in \
        result["local_text"]
    assert str(empty) in result["remote_text"] and "setup-models --dest" in result["remote_text"]
    assert result["failed"] == ["CANCELLED"] and str(empty) in result["failed_message"]
    assert result["remote_poll"] is False and result["local_poll"] is True
    assert result["setup"] == ["FINISHED"] and result["placed"] is True
    assert str(empty) in result["setup_message"] and result["ready_after"] is True
    assert result["works"] == ["FINISHED"]
