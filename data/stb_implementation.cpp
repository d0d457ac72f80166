// The one translation unit that compiles stb_image and stb_image_write (single-header libraries:
// exactly one .cpp of the program may define the *_IMPLEMENTATION macros). Everything else in mrbm,
// the tests and tools included, includes the headers without the macros and links mrbm_data.
// Compiled with warnings off (data/CMakeLists.txt): third-party code.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
