"""The page model: plain data for every page, computed from records.

Templates only lay this out. Every number here is formatted with its unit by
``fmt`` from a record field or from a computation over records; nothing is typed
by hand. One module per kind of page; the names site.py uses are gathered here.
"""

from generator.render.pages.common import (
    ChartJob,
    ChartRef,
    IndexPage,
    Link,
    Page,
    SiteModel,
    Table,
    Titles,
    figures_path,
    hardware_path,
    label,
    model_path,
    rel,
    scope_records,
    scopes,
)
from generator.render.pages.compare import ComparisonPage, HomeComparison, comparison_page, home_lines
from generator.render.pages.figures import (
    FiguresPage,
    LimitTable,
    figure_charts,
    figures_index,
    figures_page,
    limit_tables,
)
from generator.render.pages.hardware import HardwarePage, hardware_index, hardware_page
from generator.render.pages.home import FindingView, HomePage, home_page
from generator.render.pages.leaderboard import LeaderboardPage, leaderboard_csv_path, leaderboard_page
from generator.render.pages.models import ModelHighlights, ModelPage, RankPools, model_page
from generator.render.pages.reference import DataPage, MethodologyPage, data_page, methodology_page

__all__ = [
    "ChartJob",
    "ChartRef",
    "ComparisonPage",
    "DataPage",
    "FiguresPage",
    "FindingView",
    "HardwarePage",
    "HomeComparison",
    "HomePage",
    "IndexPage",
    "LeaderboardPage",
    "LimitTable",
    "Link",
    "MethodologyPage",
    "ModelHighlights",
    "ModelPage",
    "Page",
    "RankPools",
    "SiteModel",
    "Table",
    "Titles",
    "comparison_page",
    "data_page",
    "figure_charts",
    "figures_index",
    "figures_page",
    "figures_path",
    "hardware_index",
    "hardware_page",
    "hardware_path",
    "home_lines",
    "home_page",
    "label",
    "leaderboard_csv_path",
    "leaderboard_page",
    "limit_tables",
    "methodology_page",
    "model_page",
    "model_path",
    "rel",
    "scope_records",
    "scopes",
]
