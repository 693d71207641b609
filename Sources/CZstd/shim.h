#ifndef VALENCE_CZSTD_SHIM_H
#define VALENCE_CZSTD_SHIM_H
#include <zstd.h>
#endif
