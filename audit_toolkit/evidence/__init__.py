"""Where evidence comes from: the S3 layout on disk, readers, and the intake report."""

from .layout import discover_files
from .reader import FileReport, IntakeReport, read_cloudtrail_file

__all__ = ["discover_files", "FileReport", "IntakeReport", "read_cloudtrail_file"]
