return TendermintActors.Node.Cli.Run(args, Console.Out, Console.Error);
