"""Transforms of the GSME's prepayment log reads (4.14, 4.4.5). Being built: issue 15."""
