using TendermintActors.Node.Runtime;

NativeHeap.MapLargeBlocks(Environment.GetEnvironmentVariable(NativeHeap.OperatorVariable));
return TendermintActors.Node.Cli.Run(args, Console.Out, Console.Error);
