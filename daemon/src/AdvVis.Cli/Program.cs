// advvis: the headless command line over the same engine and analyses the JSON-RPC service uses.
using AdvVis.Cli;

return await CliApp.RunAsync(args);
