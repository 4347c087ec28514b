"""Model registry and architectures: the seeds' networks and twistfm's own."""

from . import seeds  # noqa: F401,I001  (registers the seeds' models first)
from . import ours  # noqa: F401,E402
from .layers import INPUT_SHAPE, inference_layout, input_shape_of, to_input
from .registry import ModelArg, ModelInfo, check_model_args, create_model, list_models, model_info, register_model
from .summary import LayerRow, count_parameters, format_summary, layer_table

__all__ = ["INPUT_SHAPE", "LayerRow", "ModelArg", "ModelInfo", "check_model_args", "count_parameters", "create_model",
           "format_summary", "inference_layout", "input_shape_of", "layer_table", "list_models", "model_info", "register_model",
           "to_input"]
