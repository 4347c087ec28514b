"""Data sources: the Fashion-MNIST archives, the twisted mapping, and the seed CSV format."""

from .csv import export_csv, read_csv_dir, read_images_csv, read_labels_csv
from .dataset import Dataset, load_dataset
from .fashion_mnist import Archives, load_fashion_mnist, locate_archives, read_idx, verify_archive
from .twisted import CLASS_NAMES, MYSTERY_OF_CLASS, classes_of_label, load_twisted, twist

__all__ = [
    "Archives", "CLASS_NAMES", "Dataset", "MYSTERY_OF_CLASS", "classes_of_label", "export_csv",
    "load_dataset", "load_fashion_mnist", "load_twisted", "locate_archives", "read_csv_dir",
    "read_idx", "read_images_csv", "read_labels_csv", "twist", "verify_archive",
]
