"""Streamed datasets: ImageFolders packed into litdata shards, read by DataLoader workers.

- :mod:`.manifest` (torch-free): the completion marker and format version of a packed set.
- :mod:`.scan`: the files and classes of an ImageFolder, with the bad-input checks.
- :mod:`.pack`: ``sslctl data pack`` (litdata ``BinaryWriter`` chunks, one folder per split).
- :mod:`.crops`: RandomResizedCrop parameters (torchvision's semantics) and reduced-size
  JPEG decoding (libjpeg-turbo's DCT scaling, through simplejpeg).
- :mod:`.order`: the sample order, a function of seed and epoch only, and its split into
  ranks' batches.
- :mod:`.feed`: the DataLoader that feeds pretraining; :mod:`.evalset`: the evaluation
  images (resize + centre crop) as a memory-mapped cache.

Why litdata (and not mosaicml-streaming or webdataset): docs/data.md.
"""
