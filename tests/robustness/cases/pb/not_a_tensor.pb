hello world, not a tensor
