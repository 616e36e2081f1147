"""What a person sees after a run: plots, Allure side files, the HTML report, the terminal summary.

Nothing here imports pytest; every function writes plain files or returns strings (allure is
used by the plugin, not here).
"""

from __future__ import annotations

from swarmcheck.reporting.allure_files import (
    CATEGORY_ENVIRONMENT,
    CATEGORY_FRAMEWORK,
    CATEGORY_NOT_THIS_RUN,
    CATEGORY_PRODUCT,
    CATEGORY_SKIPPED,
    build_categories,
    write_categories,
    write_environment,
    write_executor,
)
from swarmcheck.reporting.html import generate_html
from swarmcheck.reporting.plot import (
    AvailabilityFigures,
    availability_figures,
    render_availability_svg,
)
from swarmcheck.reporting.summary import Outcome, format_summary

__all__ = [
    "CATEGORY_ENVIRONMENT",
    "CATEGORY_FRAMEWORK",
    "CATEGORY_NOT_THIS_RUN",
    "CATEGORY_PRODUCT",
    "CATEGORY_SKIPPED",
    "AvailabilityFigures",
    "Outcome",
    "availability_figures",
    "build_categories",
    "format_summary",
    "generate_html",
    "render_availability_svg",
    "write_categories",
    "write_environment",
    "write_executor",
]
