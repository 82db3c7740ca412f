"""The Leaderboard tab: ranked results, per-backend plot, metric definitions."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space import leaderboard as board_views


def leaderboard_tab(demo: gr.Blocks, board: board_views.Leaderboard) -> None:
    gr.Markdown(board.message)
    metrics = board.metrics()
    perturbations = board.perturbations() or [board_views.CLEAN]
    with gr.Row():
        metric = gr.Dropdown(metrics, value=metrics[0] if metrics else None,
                             label="Metric (per-backend columns and plot)")
        perturbation = gr.Dropdown(perturbations, value=perturbations[0],
                                   label="Images (none = clean; else as laundered before detection)")
    table = gr.Dataframe(label="Leaderboard", interactive=False, wrap=True)
    chart = gr.Plot(label="Metric per detector and backend")
    note = board.unranked_note()
    if note:
        gr.Markdown(note)
    gr.Markdown(board_views.definitions(metrics))

    def view(chosen, under):
        return board_views.table(board, chosen, under), board_views.plot(board, chosen, under)

    gr.on([metric.change, perturbation.change], view, [metric, perturbation], [table, chart], api_name="leaderboard")
    demo.load(view, [metric, perturbation], [table, chart], api_name=False)
