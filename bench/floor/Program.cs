// The floor the bench compares start-up against: the least a NativeAOT program built like ours can do.
Console.WriteLine("hello");
