"""Data sources: the Fashion-MNIST archives, the twisted mapping, and the seed CSV format."""

from .csv import export_csv, read_csv_dir, read_images_csv, read_labels_csv
from .dataset import SPLITS, Dataset, LabelSummary, check_count
from .fashion_mnist import Archives, load_fashion_mnist, locate_archives, read_idx, verify_archive
from .loader import DataSpec, load_dataset, load_original, load_twisted
from .twisted import CLASS_NAMES, MYSTERY_OF_CLASS, classes_of_label, twist

__all__ = [
    "Archives", "CLASS_NAMES", "DataSpec", "Dataset", "LabelSummary", "MYSTERY_OF_CLASS", "SPLITS", "check_count",
    "classes_of_label", "export_csv", "load_dataset", "load_fashion_mnist", "load_original", "load_twisted",
    "locate_archives", "read_csv_dir", "read_idx", "read_images_csv", "read_labels_csv", "twist", "verify_archive",
]
