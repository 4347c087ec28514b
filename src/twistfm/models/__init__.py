"""Model registry and architectures: the seeds' networks and twistfm's own, each with its read-out layers."""

from . import seeds  # noqa: F401,I001  (registers the seeds' models first)
from . import ours  # noqa: F401,E402
from .features import ROLES, FeatureInfo, feature_info
from .layers import INFERENCE_BATCH, INPUT_SHAPE, inference_layout, input_shape_of, to_input
from .record import MAX_OUTPUTS, ModelRecord
from .registry import ModelArg, ModelInfo, check_model_args, create_model, list_models, model_info, register_model
from .summary import LayerRow, count_parameters, format_summary, layer_table

__all__ = ["check_model_args", "count_parameters", "create_model", "feature_info", "FeatureInfo", "format_summary",
           "inference_layout", "INFERENCE_BATCH", "INPUT_SHAPE",
           "input_shape_of", "layer_table", "LayerRow", "list_models", "MAX_OUTPUTS",
           "model_info", "ModelArg", "ModelInfo", "ModelRecord", "register_model", "ROLES", "to_input"]
