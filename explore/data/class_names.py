"""Published class names shared by readers and the registry (no heavy imports here, so the
registry stays quick to import)."""

CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
