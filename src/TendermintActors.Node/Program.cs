using TendermintActors.Node.Runtime;

// First: a long-running command may run again from here, in the same process, with runtime settings that .NET reads
// only from the environment (RuntimeSettings); nothing before this line may have effects.
RuntimeSettings.ApplyAtStart(args);
NativeHeap.MapLargeBlocks(Environment.GetEnvironmentVariable(NativeHeap.OperatorVariable));
return TendermintActors.Node.Cli.Run(args, Console.Out, Console.Error);
