; Inno Setup 6 script for SPADE Studio (Windows x64). NOT built or run on the project's machines
; (Linux only): see packaging/README.md. Built by packaging/build.py on Windows when ISCC.exe is
; found, or by hand from the repository root after the folder build:
;
;   python packaging\build.py --folder-only
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\spade-studio.iss
;
; Installs the one-folder build (dist\spade-studio) into Program Files, a Start-menu entry for the
; editor, an optional desktop icon, an optional "Open with" entry for PNG label maps, optionally
; the folder on the user's PATH (for spade-studio-cli), and an uninstaller. User settings,
; autosaves and runs live in %LOCALAPPDATA%\spade-studio and %APPDATA%\spade-studio
; (platformdirs) and are left in place by the uninstaller.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\spade-studio"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\..\build\icons\spade-studio.ico"
#endif

[Setup]
AppId={{5B2F7C1E-4E0B-4C52-9D7A-3A6E2C9F1D40}
AppName=SPADE Studio
AppVersion={#AppVersion}
AppVerName=SPADE Studio {#AppVersion}
AppPublisher=SPADE Studio developers
DefaultDirName={autopf}\SPADE Studio
DefaultGroupName=SPADE Studio
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\spade-studio.exe
UninstallDisplayName=SPADE Studio {#AppVersion}
Uninstallable=yes
OutputDir={#OutputDir}
OutputBaseFilename=SPADE-Studio-{#AppVersion}-setup
SetupIconFile={#IconFile}
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ChangesEnvironment=yes
ChangesAssociations=yes
WizardStyle=modern
LicenseFile=..\..\LICENSE
MinVersion=10.0

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add spade-studio-cli to PATH (command line)"; GroupDescription: "Command line:"; Flags: unchecked
Name: "openwith"; Description: "Offer SPADE Studio in ""Open with"" for PNG label maps"; GroupDescription: "Files:"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; a previous version's bundled libraries must not mix with the new ones
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\SPADE Studio"; Filename: "{app}\spade-studio.exe"; WorkingDir: "{userdocs}"
Name: "{group}\SPADE Studio command line"; Filename: "{cmd}"; Parameters: "/k ""{app}\spade-studio-cli.exe"" --help"; WorkingDir: "{userdocs}"
Name: "{group}\Uninstall SPADE Studio"; Filename: "{uninstallexe}"
Name: "{autodesktop}\SPADE Studio"; Filename: "{app}\spade-studio.exe"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Registry]
; "App Paths": Win+R "spade-studio" starts the editor
Root: HKA; Subkey: "Software\Microsoft\Windows\CurrentVersion\App Paths\spade-studio.exe"; ValueType: string; ValueName: ""; ValueData: "{app}\spade-studio.exe"; Flags: uninsdeletekey
; Open with (PNG label maps), without taking the PNG default away from the user's viewer
Root: HKA; Subkey: "Software\Classes\Applications\spade-studio.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\spade-studio.exe"" ""%1"""; Flags: uninsdeletekey; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\Applications\spade-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\.png\OpenWithList\spade-studio.exe"; ValueType: none; Flags: uninsdeletekey; Tasks: openwith

[Run]
Filename: "{app}\spade-studio.exe"; Description: "{cm:LaunchProgram,SPADE Studio}"; Flags: nowait postinstall skipifsilent

[Code]
const
  EnvKeyMachine = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';
  EnvKeyUser = 'Environment';

function EnvRoot: Integer;
begin
  if IsAdminInstallMode then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvKey: String;
begin
  if IsAdminInstallMode then Result := EnvKeyMachine else Result := EnvKeyUser;
end;

{ PATH entries are compared case-insensitively, with ';' on both sides so a prefix never matches }
function PathHas(Paths, Dir: String): Boolean;
begin
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') > 0;
end;

procedure AddToPath(Dir: String);
var
  Paths: String;
begin
  if not RegQueryStringValue(EnvRoot, EnvKey, 'Path', Paths) then Paths := '';
  if PathHas(Paths, Dir) then exit;
  if (Paths <> '') and (Copy(Paths, Length(Paths), 1) <> ';') then Paths := Paths + ';';
  RegWriteExpandStringValue(EnvRoot, EnvKey, 'Path', Paths + Dir);
end;

procedure RemoveFromPath(Dir: String);
var
  Paths: String;
  P: Integer;
begin
  if not RegQueryStringValue(EnvRoot, EnvKey, 'Path', Paths) then exit;
  Paths := ';' + Paths + ';';
  P := Pos(';' + Uppercase(Dir) + ';', Uppercase(Paths));
  if P = 0 then exit;
  Delete(Paths, P, Length(Dir) + 1);
  { drop the ';' we added at both ends }
  if Copy(Paths, 1, 1) = ';' then Delete(Paths, 1, 1);
  if Copy(Paths, Length(Paths), 1) = ';' then Delete(Paths, Length(Paths), 1);
  RegWriteExpandStringValue(EnvRoot, EnvKey, 'Path', Paths);
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and WizardIsTaskSelected('addtopath') then
    AddToPath(ExpandConstant('{app}'));
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFromPath(ExpandConstant('{app}'));
end;
