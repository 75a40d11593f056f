"""Canonical tensor names: Hugging Face checkpoint names -> the operator graph's BERT names.

The operator graph (:func:`sim.workload.graph.lower`) names every parameter with BERT's Hugging Face
name without the ``bert.`` prefix, for every family. This module maps checkpoints onto those names:

* BERT / RoBERTa: strip ``bert.`` / ``roberta.``; the old ``gamma``/``beta`` LayerNorm names become
  ``weight``/``bias``.
* DistilBERT (``distilbert.`` optional): ``transformer.layer.N.attention.{q,k,v}_lin`` ->
  ``encoder.layer.N.attention.self.{query,key,value}``, ``attention.out_lin`` ->
  ``attention.output.dense``, ``sa_layer_norm`` -> ``attention.output.LayerNorm``, ``ffn.lin1`` ->
  ``intermediate.dense``, ``ffn.lin2`` -> ``output.dense``, ``output_layer_norm`` -> ``output.LayerNorm``.
* ViT (``vit.`` optional): ``encoder.layer.N.attention.attention.{query,key,value}`` ->
  ``...attention.self.*``; ``layernorm_before`` (the pre-attention norm) -> ``attention.output.LayerNorm``
  and ``layernorm_after`` (the pre-MLP norm) -> ``output.LayerNorm``, the two norms the graph lists per
  layer; ``embeddings.*``, ``layernorm.*``, ``pooler.*`` and ``classifier.*`` keep their names.

Task heads (``cls.*``, ``lm_head.*``, ``qa_outputs``, ...) and integer buffers (``position_ids``) are
dropped.
"""

from __future__ import annotations

from sim.quant.names import canonical_name, canonical_weights

__all__ = ["canonical_name", "canonical_weights"]
