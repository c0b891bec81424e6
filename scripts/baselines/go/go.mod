module runtimelab/baselines

go 1.19
