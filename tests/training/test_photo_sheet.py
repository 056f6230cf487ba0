"""training.photo_sheet: real photos through the backend's background removal, a real network."""

from __future__ import annotations

import torch
from PIL import Image

from backend.model import ModelConfig, Slice3DCompact, save_weights
from training import photo_sheet as S

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def test_photo_files_start_with_the_apple_and_hold_the_scikit_image_photos(tmp_path):
    files = S.photo_files(tmp_path)
    labels = [label for label, _ in files]
    assert labels[0] == "apple"
    assert {"coffee", "rocket"} <= set(labels)
    assert all(path.exists() for _, path in files)


def test_sheet_has_one_row_per_photo_and_a_column_block_per_model(tmp_path):
    torch.manual_seed(0)
    w = save_weights(Slice3DCompact(ModelConfig.from_dict(TINY)), tmp_path / "w.safetensors")
    out = tmp_path / "sheet.png"
    S.main(["--model", f"a={w}", "--model", f"b={w}", "--resolution", "32", "--threads", "1",
            "--photos", "apple", "coffee", "--out", str(out)])
    sheet = Image.open(out)
    # rows: a title band of 30 px, then 128 px tiles with 18 px of labels each
    assert sheet.height == 30 + 2 * (128 + 18)
    # columns: the input, then per model its slices (192) and three renders (128 each)
    assert sheet.width == (128 + 2 * (192 + 3 * 128)) + 4 * (1 + 2 * 4)
