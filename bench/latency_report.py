"""The latency benchmark's markdown report."""

from __future__ import annotations

from latency_common import HEIGHT, WIDTH


def _f(x, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _goal_words(goals: dict) -> tuple[str, str]:
    """'met' / 'not met' / 'n/a' for the H=1 ratio goal and the marginal-cost goal."""
    return tuple("met" if goals.get(k) else ("not met" if goals.get(k) is not None else "n/a")
                 for k in ("ratio_h1", "marginal"))


def to_markdown(res: dict) -> str:
    c = res["config"]
    hs = c["hands"]
    L = ["## Latency: HandOS vs MediaPipe Hands", ""]
    L.append(f"{c['frames_per_h']} synthetic {WIDTH}x{HEIGHT} frames per hand count H (seed {c['seed']}, the same PNGs "
             f"for both), device `{c['device']}`, torch threads {c['threads']}, "
             f"OMP_WAIT_POLICY {c.get('omp_wait_policy', 'library default')}. HandOS: {res['handos']['model']}, "
             f"input {res['handos']['input_size']} px, exactly H hands through the decoder (`fixed_count=H`). "
             f"MediaPipe: {res['mediapipe'].get('info', {}).get('api', 'skipped')} "
             f"(mediapipe {res['mediapipe'].get('info', {}).get('mediapipe_version', '–')}), "
             f"mode `{c['mp_mode']}`. Wall-clock ms per frame, median (p90). "
             f"Load average before/after: {c['loadavg_before']} / {c['loadavg_after']}.")
    L.append("")
    L.append("| H | HandOS detector | side tuning | decoder | HandOS total | hands decoded | MediaPipe total "
             "| MP hands found | HandOS / MP |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    hp, mp = res["handos"]["per_h"], res["mediapipe"].get("per_h", {})
    for h in hs:
        a = hp[str(h)]
        m = mp.get(str(h))
        ratio = res["comparison"]["ratio_per_h"].get(str(h))
        mcell = f"{_f(m['wall_ms']['median'])} ({_f(m['wall_ms']['p90'])})" if m else "–"
        mdet = f"{m['detected_mean']:.2f}" if m else "–"
        L.append(f"| {h} | {_f(a['detector_ms']['median'])} | {_f(a['side_tuning_ms']['median'])} "
                 f"| {_f(a['decoder_ms']['median'])} | {_f(a['wall_ms']['median'])} ({_f(a['wall_ms']['p90'])}) "
                 f"| {a['hands_processed_mean']:.0f} | {mcell} | {mdet} | {_f(ratio, 2)} |")
    L.append("")
    cpu_h = [f"H={h} {_f(hp[str(h)]['cpu_ms']['median'], 0)}" for h in hs]
    line = "Process CPU time per frame (all threads), median ms: HandOS " + ", ".join(cpu_h)
    if mp:
        line += "; MediaPipe " + ", ".join(f"H={h} {_f(mp[str(h)]['cpu_ms']['median'], 0)}" for h in hs if str(h) in mp)
    L.append(line + ".")
    L.append("")
    if mp:
        L.append("Least-disturbed frames (10th percentile; closest to an idle machine when others share the CPU):")
        L.append("")
        L.append("| H | HandOS p10 | MediaPipe p10 | HandOS / MP (p10) |")
        L.append("|---|---|---|---|")
        for h in hs:
            a, m = hp[str(h)]["wall_ms"], mp.get(str(h), {}).get("wall_ms")
            if m and m.get("n"):
                L.append(f"| {h} | {_f(a['p10'])} | {_f(m['p10'])} | {_f(a['p10'] / m['p10'], 2)} |")
        L.append("")
    w = res.get("cpu_work")
    if w:
        L.append(f"CPU work per frame: a second pass over {w['frames_per_h']} frames per H with ONE torch thread, "
                 "process CPU time in ms (median), which other programs on the machine barely change:")
        L.append("")
        L.append("| H | HandOS CPU ms (1 thread) | MediaPipe CPU ms | HandOS / MP |")
        L.append("|---|---|---|---|")
        for h in hs:
            r = w["per_h"][str(h)]
            mcpu = r["mediapipe_cpu_ms"].get("median")
            L.append(f"| {h} | {_f(r['handos_cpu_ms']['median'])} | {_f(mcpu)} "
                     f"| {_f(w.get('ratio_per_h', {}).get(str(h)), 2)} |")
        L.append("")
    L.append("Marginal cost per extra hand (ms): least-squares slope of the median over H >= 1, and H = 0 -> 1.")
    L.append("")
    L.append("| method | slope H>=1 | step 0->1 |")
    L.append("|---|---|---|")
    hm, hd = res["handos"]["marginal"], res["handos"]["marginal_decoder"]
    L.append(f"| HandOS total | {_f(hm['slope_ms_per_hand'], 2)} | {_f(hm['step_0_to_1_ms'], 2)} |")
    L.append(f"| HandOS decoder only | {_f(hd['slope_ms_per_hand'], 2)} | {_f(hd['step_0_to_1_ms'], 2)} |")
    if "marginal" in res["mediapipe"]:
        mm = res["mediapipe"]["marginal"]
        L.append(f"| MediaPipe | {_f(mm['slope_ms_per_hand'], 2)} | {_f(mm['step_0_to_1_ms'], 2)} |")
        if res["mediapipe"].get("slope_ms_per_detected_hand") is not None:
            L.append(f"| MediaPipe, per hand it found | {_f(res['mediapipe']['slope_ms_per_detected_hand'], 2)} | |")
    if w:
        hw = w["handos_marginal"]
        L.append(f"| HandOS CPU work (1 thread) | {_f(hw['slope_ms_per_hand'], 2)} | {_f(hw['step_0_to_1_ms'], 2)} |")
        if "mediapipe_marginal" in w:
            mw = w["mediapipe_marginal"]
            L.append(f"| MediaPipe CPU work | {_f(mw['slope_ms_per_hand'], 2)} | {_f(mw['step_0_to_1_ms'], 2)} |")
    L.append("")
    g = res["comparison"]["goals"]
    L.append("Goals (issue 17): HandOS <= 1.0x MediaPipe at H=1: **{}**; HandOS marginal cost per hand <= 0.5x "
             "MediaPipe's per hand found: **{}**.".format(*_goal_words(g)))
    o = res.get("onnxruntime")
    if o:
        orat = res["comparison"].get("onnxruntime_ratio_per_h", {})
        L.append("")
        L.append(f"ONNX Runtime backend (the node's `backend: onnxruntime`): {o['model']}; the same frames, "
                 "measured after the PyTorch pass. Wall-clock ms per frame, median (p90):")
        L.append("")
        L.append("| H | detector | decoder (incl. side tuning) | total | HandOS ORT / MP |")
        L.append("|---|---|---|---|---|")
        for h in hs:
            a = o["per_h"][str(h)]
            L.append(f"| {h} | {_f(a['detector_ms']['median'])} | {_f(a['decoder_ms']['median'])} "
                     f"| {_f(a['wall_ms']['median'])} ({_f(a['wall_ms']['p90'])}) | {_f(orat.get(str(h)), 2)} |")
        om = o["marginal"]
        L.append("")
        L.append(f"ONNX Runtime marginal cost per extra hand: slope {_f(om['slope_ms_per_hand'], 2)} ms, "
                 f"step 0->1 {_f(om['step_0_to_1_ms'], 2)} ms.")
        og = res["comparison"].get("onnxruntime_goals", {})
        if og:
            L.append("Goals with the ONNX Runtime backend: <= 1.0x MediaPipe at H=1: **{}**; marginal <= 0.5x: **{}**."
                     .format(*_goal_words(og)))
    if res["mediapipe"].get("skipped"):
        L.append("")
        L.append(f"MediaPipe skipped: {res['mediapipe']['skipped']}")
    for prof in res.get("profile", []):
        L.append("")
        L.append(f"### Profile of one HandOS predict, H = {prof['hands']} ({prof['model']})")
        L.append("")
        L.append("Stages (ms): " + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in prof["stage_ms"].items()))
        L.append("")
        L.append("| torch op | calls | self CPU ms | total CPU ms |")
        L.append("|---|---|---|---|")
        for o in prof["torch_ops"]:
            L.append(f"| `{o['op']}` | {o['calls']} | {o['self_cpu_ms']:.2f} | {o['cpu_total_ms']:.2f} |")
        L.append("")
        L.append("| handos_model function (cProfile, by cumulative time) | calls | own ms | cumulative ms |")
        L.append("|---|---|---|---|")
        for fn in prof["python_functions"]:
            L.append(f"| `{fn['function']}` | {fn['calls']} | {fn['tottime_ms']:.2f} | {fn['cumtime_ms']:.2f} |")
    for g_ in res.get("gpu", []):
        L.append("")
        L.append(f"### {g_['label']}")
        L.append("")
        if g_.get("error"):
            L.append(f"Failed: `{g_['error']}`")
            continue
        L.append("| H | detector | side tuning | decoder | total median (p90) |")
        L.append("|---|---|---|---|---|")
        for h in hs:
            a = g_["per_h"].get(str(h))
            if a:
                L.append(f"| {h} | {_f(a['detector_ms']['median'])} | {_f(a['side_tuning_ms']['median'])} "
                         f"| {_f(a['decoder_ms']['median'])} | {_f(a['wall_ms']['median'])} ({_f(a['wall_ms']['p90'])}) |")
        m = g_["marginal"]
        L.append("")
        L.append(f"Marginal cost per hand: slope {_f(m['slope_ms_per_hand'], 2)} ms, step 0->1 {_f(m['step_0_to_1_ms'], 2)} ms.")
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------- main
