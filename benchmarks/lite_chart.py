"""Every zoo model's CPU time per 480 x 320 image relative to the lite model, beside its quality: table and chart.

    python benchmarks/lite_chart.py --sapnet-over-lite 18.1 --lite-rain100h 14.00 --lite-gtrain 26.60 \
        -o benchmarks/lite_speed_quality.png

Quality: the Rain100H and GT-RAIN dev PSNR-Y each weights.toml entry records (measured with the
command stored beside it), the lite model's given on the command line (docs/lite.md). Speed: the
architectures' times relative to the SAPNet fast path from ``bench_zoo.py`` (benchmarks/RESULTS.md,
fp32, one thread, one run: :data:`ZOO_OVER_SAPNET`), times SAPNet's fast path over the lite model
measured in one process by ``lite_speed.py`` (``--sapnet-over-lite``, fp32 480 x 320): a ratio of
two runs, each measured within its own process. Prints the Markdown table; draws the chart with
Pillow (no matplotlib here): x = seconds per image relative to lite (log scale), y = PSNR-Y, one
panel per test set, models without a score on a set left out of its panel.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from derain_cli.weights.registry import SCORE_SETS, load_registry

# bench_zoo.py --threads 1 --repeats 2 --precision fp32 (benchmarks/RESULTS.md, "Speed per 480 x 320
# image, every architecture in one run"): seconds per image / the SAPNet fast path's.
ZOO_OVER_SAPNET = {"sapnet": 1.00, "prenet": 0.98, "vrgnet-prenet": 1.01, "brn": 3.69, "aidnet": 3.63,
                   "spanet": 0.94, "jorder-e": 0.57}  # fmt: skip
LITE = "lite"
# The rainy inputs' own PSNR-Y (benchmarks/RESULTS.md: Rain100H 13.55, GT-RAIN dev 26.64), a line on each panel.
RAINY_INPUT = {"rain100h": 13.55, "gtrain_dev": 26.64}
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def rows(sapnet_over_lite: float, lite_scores: dict[str, float]) -> list[tuple[str, float, dict[str, float | None]]]:
    """(name, time relative to lite, {set: PSNR-Y or None}) for lite and every zoo entry with a timed architecture."""
    found = [(LITE, 1.0, lite_scores)]
    for entry in load_registry().models.values():
        if entry.architecture not in ZOO_OVER_SAPNET or entry.name == LITE:
            continue
        scores = {key: score.psnr if score else None for key, score in entry.scores().items()}
        found.append((entry.name, ZOO_OVER_SAPNET[entry.architecture] * sapnet_over_lite, scores))
    return found


def draw(found: list[tuple[str, float, dict[str, float | None]]], path: Path) -> None:
    width, height, margin = 1400, 640, 70
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    font, small = ImageFont.truetype(FONT, 18), ImageFont.truetype(FONT, 12)
    panel = (width - margin) // len(SCORE_SETS)
    top_x = max(time for _, time, _ in found) * 1.5
    for index, (key, title) in enumerate(SCORE_SETS.items()):
        points = [(name, time, scores[key]) for name, time, scores in found if scores.get(key) is not None]
        low = math.floor(min([p for *_, p in points] + [RAINY_INPUT[key]])) - 1
        high = math.ceil(max(p for *_, p in points)) + 1
        left, right, up, down = margin + index * panel, margin + (index + 1) * panel - 60, 50, height - 60

        def place(time: float, psnr: float) -> tuple[float, float]:
            x = left + (right - left) * math.log(time / 0.7) / math.log(top_x / 0.7)
            return x, down - (down - up) * (psnr - low) / (high - low)

        pen.rectangle((left, up, right, down), outline="black")
        pen.text((left, 15), f"{title}: PSNR-Y (dB)", fill="black", font=font)
        pen.text((left, down + 28), "CPU seconds per 480x320 image, relative to lite (log scale)", fill="black", font=small)
        _, rainy_y = place(1, RAINY_INPUT[key])
        for x in range(int(left), int(right), 12):  # dashed: the rainy input's score
            pen.line((x, rainy_y, x + 6, rainy_y), fill="grey")
        pen.text((right - 90, rainy_y + 3), "rainy input", fill="grey", font=small)
        for tick in (1, 2, 5, 10, 20, 50, 100):
            if tick <= top_x:
                x, _ = place(tick, low)
                pen.line((x, down, x, down + 5), fill="black")
                pen.text((x - 8, down + 8), f"{tick}x", fill="black", font=small)
        for level in range(low, high + 1, max(1, (high - low) // 8)):
            _, y = place(1, level)
            pen.line((left - 5, y, left, y), fill="black")
            pen.text((left - 40, y - 7), f"{level}", fill="black", font=small)
        placed = sorted(((name, *place(time, psnr)) for name, time, psnr in points), key=lambda p: p[1])
        clusters: list[list[tuple[str, float, float]]] = []  # points within 30 px of each other along x share a label column
        for point in placed:
            if clusters and point[1] - clusters[-1][-1][1] < 30:
                clusters[-1].append(point)
            else:
                clusters.append([point])
        for cluster in clusters:
            cluster.sort(key=lambda p: p[2])
            column = max(x for _, x, _ in cluster) + 8
            rows_y = [y - 7 for *_, y in cluster]
            for i in range(1, len(rows_y)):  # 13 px apart, in the points' order, centred on them
                rows_y[i] = max(rows_y[i], rows_y[i - 1] + 13)
            offset = (sum(rows_y) - sum(y - 7 for *_, y in cluster)) / len(cluster)
            rows_y = [max(up, r - offset) for r in rows_y]
            for i in range(1, len(rows_y)):
                rows_y[i] = max(rows_y[i], rows_y[i - 1] + 13)
            for (name, x, y), label_y in zip(cluster, rows_y):
                colour = "red" if name == LITE else "navy"
                pen.ellipse((x - 5, y - 5, x + 5, y + 5), fill=colour)
                if abs(label_y - (y - 7)) > 1 or column - x > 10:  # a leader line from the point to its label
                    pen.line((x + 5, y, column - 2, label_y + 7), fill="grey")
                pen.text((column, label_y), name, fill=colour, font=small)
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sapnet-over-lite", type=float, required=True, help="lite_speed.py's fp32 480x320 speed-up")
    parser.add_argument("--lite-rain100h", type=float, required=True)
    parser.add_argument("--lite-gtrain", type=float, required=True)
    parser.add_argument("-o", "--output", type=Path, default=Path("benchmarks/lite_speed_quality.png"))
    args = parser.parse_args()
    found = rows(args.sapnet_over_lite, {"rain100h": args.lite_rain100h, "gtrain_dev": args.lite_gtrain})
    print("| model | s / image, x lite | Rain100H PSNR-Y | GT-RAIN dev PSNR-Y |\n|---|---|---|---|")
    for name, time, scores in sorted(found, key=lambda row: row[1]):
        cells = [f"{scores[key]:.2f}" if scores.get(key) is not None else "not measured" for key in SCORE_SETS]
        print(f"| {name} | {time:.1f} | {' | '.join(cells)} |")
    draw(found, args.output)
    print(f"\nchart: {args.output}")


if __name__ == "__main__":
    main()
