namespace TendermintActors;
