// The model's configuration, as the model layer sees it. The struct lives in formats/ because the
// loaders (config.json, GGUF) that fill it sit below the model in the dependency order; this
// header is the one model code includes.
//   Config, RopeScaling, Arch            formats/config.h
//   preset_config, count_parameters, rope_inv_freq, finalize_config
//   parse_hf_config, load_hf_config, hf_config_to_json, save_hf_config   formats/hf_config.h
#pragma once
#include "formats/config.h"
#include "formats/hf_config.h"
