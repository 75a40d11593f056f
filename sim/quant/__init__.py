"""GOBO weight quantization for gobosim (numpy, the standard library and sim.errors only).

* :mod:`.outliers`: per-tensor Gaussian fit and the log-density outlier rule (closed-form z*).
* :mod:`.centroids`: GOBO centroid selection (equal-population init, L1-stopped refinement) and
  plain 1-D K-means for comparison.
* :mod:`.packed`: the packed storage format (:class:`PackedTensor`), :func:`pack` / :func:`unpack`,
  blocks and per-block outlier counts and byte sizes for the DRAM/engine model.
* :mod:`.integer`: the integer variant (int8 centroids, int16 outliers, one scale per tensor).
* :mod:`.params`, :mod:`.names`: which tensors are quantized at how many bits, by Hugging Face name.
* :mod:`.checkpoint`: safetensors reader/writer, BERT/RoBERTa/DistilBERT checkpoints, MiniLM path.
* :mod:`.synthetic`, :mod:`.calibration`: seeded synthetic weights calibrated on MiniLM.
* :mod:`.model`, :mod:`.cache`: whole-model quantization, the quantize report, the disk cache.
"""

from .cache import (
    QuantCache,
    cache_key,
    default_cache_dir,
    quantize_checkpoint,
    quantize_synthetic,
    quantize_workload_checkpoint,
)
from .centroids import CentroidResult, gobo_centroids, kmeans_centroids
from .checkpoint import (
    MAX_CHECKPOINT_BYTES,
    CheckpointError,
    WorkloadCheckpoint,
    load_checkpoint,
    load_for_workload,
    minilm_path,
    read_safetensors,
    write_safetensors,
)
from .errors import QuantError, QuantParamError
from .integer import IntegerGobo, integerize
from .model import CODE_VERSION, QuantizedModel, quantize_model
from .names import TensorInfo, canonical_name, canonical_weights, classify_tensor
from .outliers import GaussianFit, detect_outliers, fit_gaussian, z_threshold
from .packed import BlockBytes, PackedBlock, PackedTensor, pack, unpack
from .params import GoboParams, bits_for_kind, bits_for_tensor
from .synthetic import (
                        bert_tensor_shapes,
                        distilbert_tensor_shapes,
                        iter_synthetic_weights,
                        shapes_from_hf_config,
                        synthetic_tensor,
                        synthetic_weights,
)

__all__ = [
    "CODE_VERSION", "MAX_CHECKPOINT_BYTES", "WorkloadCheckpoint", "canonical_name", "canonical_weights",
    "load_for_workload", "quantize_workload_checkpoint", "BlockBytes", "CentroidResult", "CheckpointError",
    "GaussianFit", "GoboParams",
    "IntegerGobo", "PackedBlock", "PackedTensor", "QuantCache", "QuantError", "QuantParamError",
    "QuantizedModel", "TensorInfo", "bert_tensor_shapes", "bits_for_kind", "bits_for_tensor",
    "cache_key", "classify_tensor", "default_cache_dir", "detect_outliers", "distilbert_tensor_shapes", "fit_gaussian",
    "gobo_centroids", "integerize", "iter_synthetic_weights", "kmeans_centroids", "load_checkpoint",
    "minilm_path", "pack", "quantize_checkpoint", "quantize_model", "quantize_synthetic",
    "read_safetensors", "shapes_from_hf_config", "synthetic_tensor", "synthetic_weights", "unpack", "write_safetensors",
    "z_threshold",
]
