"""The Space's CSS (``launch`` passes it to Gradio): desktop details, and the phone layout (390 px wide screens).

On a phone Gradio moves tabs that do not fit the bar into a "..." menu (it measures the tab buttons): tighter
tab buttons keep all four in the bar. The human test's answer feedback (elem_id ``human-feedback``) is pinned
to the bottom of the screen there, so it is seen without scrolling past the image and the buttons.
"""

PHONE = "(max-width: 640px)"

CSS = f"""
#human-image img {{ cursor: crosshair; }}
.ib-status p {{ margin: 0.4em 0; }}

@media {PHONE} {{
  /* Gradio decides what fits by measuring a hidden copy of the bar: both copies get the tighter buttons. */
  .tab-container button {{ padding: 0 6px !important; font-size: 13px !important; }}
  .gradio-container {{ padding-left: 6px !important; padding-right: 6px !important; }}
  #browse-original, #browse-image, #browse-overlay {{ min-height: 0 !important; }}
  #browse-original img, #browse-image img, #browse-overlay img {{ max-height: 260px; }}
  #board-table {{ font-size: 13px; }}
  #human-feedback {{
    position: fixed; left: 6px; right: 6px; bottom: 6px; z-index: 50; max-height: 35vh; overflow: auto;
    padding: 6px 10px; background: var(--background-fill-primary); border: 1px solid var(--border-color-primary);
    border-radius: var(--radius-lg); box-shadow: 0 2px 12px rgba(0, 0, 0, 0.25);
  }}
  #human-feedback:not(:has(.prose *)) {{ display: none; }}
}}
"""
