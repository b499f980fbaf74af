"""The pieces of transfer clustering (`explore.methods.transfer.TransferClustering` chains them):

- `extractors`: feature extractors behind one interface (DINOv2, an `explore train` run's
  backbone, pixels / PCA), input checks, AdaBN;
- `finetune`: supervised fine-tuning of an extractor on a labelled source;
- `embedding`: UMAP of feature vectors on an exact nearest-neighbour graph (also the
  dashboard's embedding view of any method);
- `mixture`: the Dirichlet-process mixture that infers K, and `infer_clusters` (UMAP then the
  mixture) for any method's features.
"""
