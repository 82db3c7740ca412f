"""The Leaderboard tab: one track (data x perturbation) at a time, ranked by the chosen metric, with n, intervals,
a chart and every metric's definition."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space import leaderboard as board_views


def leaderboard_tab(demo: gr.Blocks, board: board_views.Leaderboard) -> None:
    gr.Markdown(board.message + " Each track is ranked on its own: results on other data or on laundered images "
                "are never ranked together.")
    metrics = board.metrics()
    tracks = board.tracks()
    with gr.Row():
        track = gr.Dropdown(tracks, value=tracks[0] if tracks else None, label="Track (data · images · count)",
                            elem_id="board-track", min_width=300)
        metric = gr.Dropdown(metrics, value=metrics[0] if metrics else None, label="Rank by metric",
                             elem_id="board-metric", min_width=240)
    note = gr.Markdown(board_views.metric_note(metrics[0] if metrics else None), elem_id="board-note")
    # No wrapping: narrow screens scroll the table sideways instead of breaking headers into syllables.
    table = gr.Dataframe(label="Leaderboard", interactive=False, wrap=False, elem_id="board-table")
    # The chart's own axis names the metric; Gradio's label badge would sit on top of the bars.
    chart = gr.Plot(show_label=False, elem_id="board-chart")
    unranked = board.unranked_note()
    if unranked:
        gr.Markdown(unranked)
    gr.Markdown(board_views.definitions(metrics), elem_id="board-definitions")

    def view(chosen, on_track):
        try:
            return (board_views.table(board, chosen, on_track), board_views.plot(board, chosen, on_track),
                    board_views.metric_note(chosen))
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    gr.on([metric.change, track.change], view, [metric, track], [table, chart, note], api_name="leaderboard")
    demo.load(view, [metric, track], [table, chart, note], api_name=False)
