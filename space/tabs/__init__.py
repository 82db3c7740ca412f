"""One module per tab of the Space: each builds its components and wires its events inside ``gr.Blocks``."""
