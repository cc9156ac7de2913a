// CARTLM_CHECK: the channel for bugs (broken invariants inside cartlm). It prints file:line and
// aborts. Bad input from users (files, flags, requests) never goes here: it returns a Status.
#pragma once
#include <cstdio>
#include <cstdlib>

#define CARTLM_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "cartlm: internal error at %s:%d: check failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                                    \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

#ifdef NDEBUG
#define CARTLM_DCHECK(cond) \
  do {                      \
  } while (0)
#else
#define CARTLM_DCHECK(cond) CARTLM_CHECK(cond)
#endif
