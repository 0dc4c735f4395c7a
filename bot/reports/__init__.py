"""Rendering: PNG charts (matplotlib, headless) and the clinician report PDF (fpdf2)."""
