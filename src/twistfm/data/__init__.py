"""Data sources (the Fashion-MNIST archives, the seed CSV format, image folders, tables, NumPy files),
validation, the twisted mapping, and one loader that picks the source."""

from .arrays import read_npz
from .csv import export_csv, read_csv_dir, read_images_csv, read_labels_csv
from .dataset import MIN_SIDE, SPLITS, Dataset, LabelSummary, check_count
from .fashion_mnist import Archives, load_fashion_mnist, locate_archives, read_idx, verify_archive
from .images import decode_image, parse_size, read_image_folder
from .loader import DataSpec, load_dataset, load_original, load_twisted
from .table import read_table
from .twisted import CLASS_NAMES, MYSTERY_OF_CLASS, classes_of_label, twist

__all__ = [
    "Archives", "CLASS_NAMES", "DataSpec", "Dataset", "LabelSummary", "MIN_SIDE", "MYSTERY_OF_CLASS", "SPLITS",
    "check_count", "classes_of_label", "decode_image", "export_csv", "load_dataset", "load_fashion_mnist",
    "load_original", "load_twisted", "locate_archives", "parse_size", "read_csv_dir", "read_idx", "read_image_folder",
    "read_images_csv", "read_labels_csv", "read_npz", "read_table", "twist", "verify_archive",
]
